package pkcs11

import "strings"

func containsSecret(s, secret string) bool { return secret != "" && strings.Contains(s, secret) }

func replaceSecret(s, secret string) string { return strings.ReplaceAll(s, secret, "***") }
