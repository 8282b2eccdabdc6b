// Package doccheck holds the tests that keep finauth's documentation true: every Go block of
// README.md and docs/*.md is type-checked against the code. It has no API.
package doccheck
