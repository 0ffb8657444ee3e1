package session

// KeyTag exposes a cookie's Redis hash tag to the tests.
func KeyTag(cookie string) string {
	p, err := parseCookie(cookie)
	if err != nil {
		return ""
	}
	return p.tag()
}
