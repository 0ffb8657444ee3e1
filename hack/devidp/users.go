package devidp

import (
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

//go:embed users.yaml
var defaultUsersYAML []byte

// User is one account of the development identity provider.
type User struct {
	// ID is the FusionAuth user id (a UUID); it becomes the tokens' sub.
	ID string `json:"id"`
	// Email is the login id.
	Email string `json:"email"`
	// Password is the clear-text dev password; it is hashed at load and never kept in clear.
	Password string `json:"password"`
	// Name is the full name (id_token and userinfo "name").
	Name string `json:"name"`
	// EmailVerified defaults to true.
	EmailVerified *bool `json:"emailVerified,omitempty"`
	// Registration is the user's registration to the application; nil means not registered.
	Registration *Registration `json:"registration,omitempty"`
}

// Registration mirrors a FusionAuth user registration: roles plus registration data.
type Registration struct {
	Roles []string         `json:"roles"`
	Data  RegistrationData `json:"data"`
}

// RegistrationData is the part of FusionAuth's registration.data that a JWT populate lambda maps
// into the access token.
type RegistrationData struct {
	// Branches a branch manager is responsible for (claim "branches").
	Branches []string `json:"branches,omitempty"`
}

type usersFile struct {
	Users []User `json:"users"`
}

// user is a loaded User with the password replaced by its hash.
type user struct {
	User
	passwordHash [sha256.Size]byte
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ParseUsers parses a users YAML document strictly (unknown keys and duplicate keys are errors) and
// validates every user, reporting every problem at once.
func ParseUsers(data []byte) ([]User, error) {
	var f usersFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("devidp: users: %w", err)
	}
	if err := validateUsers(f.Users); err != nil {
		return nil, err
	}
	return f.Users, nil
}

// LoadUsers reads and parses a users YAML file.
func LoadUsers(path string) ([]User, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devidp: users: %w", err)
	}
	return ParseUsers(data)
}

// DefaultUsers returns the embedded development users (admin, manager, customer, outsider).
func DefaultUsers() []User {
	users, err := ParseUsers(defaultUsersYAML)
	if err != nil {
		// The embedded file is tested; a failure here is a build defect.
		panic(err)
	}
	return users
}

// DefaultUser returns the embedded development user with the given email (in any case), with
// the clear-text password its login takes: the one place tests and harnesses get a dev user's
// credentials from.
func DefaultUser(email string) (User, error) {
	for _, u := range DefaultUsers() {
		if strings.EqualFold(u.Email, email) {
			return u, nil
		}
	}
	return User{}, fmt.Errorf("devidp: no default user %q", email)
}

func validateUsers(users []User) error {
	var errs []error
	if len(users) == 0 {
		errs = append(errs, errors.New("devidp: users: no users"))
	}
	ids := map[string]bool{}
	emails := map[string]bool{}
	for i, u := range users {
		at := fmt.Sprintf("devidp: users[%d]", i)
		if !uuidPattern.MatchString(u.ID) {
			errs = append(errs, fmt.Errorf("%s: id %q is not a lower-case UUID", at, u.ID))
		}
		if ids[u.ID] {
			errs = append(errs, fmt.Errorf("%s: duplicate id %q", at, u.ID))
		}
		ids[u.ID] = true
		email := strings.ToLower(u.Email)
		if !strings.Contains(u.Email, "@") || strings.ContainsAny(u.Email, " \t\r\n") {
			errs = append(errs, fmt.Errorf("%s: email %q is not an email address", at, u.Email))
		}
		if emails[email] {
			errs = append(errs, fmt.Errorf("%s: duplicate email %q", at, u.Email))
		}
		emails[email] = true
		if u.Password == "" {
			errs = append(errs, fmt.Errorf("%s: password is empty", at))
		}
		if strings.TrimSpace(u.Name) == "" {
			errs = append(errs, fmt.Errorf("%s: name is empty", at))
		}
		if u.Registration != nil {
			for _, r := range u.Registration.Roles {
				if strings.TrimSpace(r) == "" {
					errs = append(errs, fmt.Errorf("%s: empty role", at))
				}
			}
			for _, b := range u.Registration.Data.Branches {
				if strings.TrimSpace(b) == "" {
					errs = append(errs, fmt.Errorf("%s: empty branch", at))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (u *User) emailVerified() bool { return u.EmailVerified == nil || *u.EmailVerified }

// directory holds the loaded users, keyed by lower-cased email and by id.
type directory struct {
	byEmail map[string]*user
	byID    map[string]*user
	dummy   [sha256.Size]byte
}

func newDirectory(users []User) *directory {
	d := &directory{byEmail: map[string]*user{}, byID: map[string]*user{}, dummy: sha256.Sum256([]byte("devidp-no-such-user"))}
	for _, u := range users {
		lu := &user{User: u, passwordHash: sha256.Sum256([]byte(u.Password))}
		lu.Password = ""
		if u.Registration != nil {
			reg := *u.Registration
			reg.Roles = append([]string(nil), reg.Roles...)
			reg.Data.Branches = append([]string(nil), reg.Data.Branches...)
			lu.Registration = &reg
		}
		d.byEmail[strings.ToLower(u.Email)] = lu
		d.byID[u.ID] = lu
	}
	return d
}

// authenticate checks a login id and password; the comparison is constant time and an unknown
// login id costs the same as a wrong password.
func (d *directory) authenticate(loginID, password string) (*user, bool) {
	got := sha256.Sum256([]byte(password))
	u, ok := d.byEmail[strings.ToLower(strings.TrimSpace(loginID))]
	want := d.dummy
	if ok {
		want = u.passwordHash
	}
	match := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	if !ok || !match {
		return nil, false
	}
	return u, true
}
