// Package jwtauth is the one token verification path every gatewarden
// service uses. (Design notes: see the full package comment below once
// implemented.)
package jwtauth
