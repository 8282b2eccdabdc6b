package config

import (
	"errors"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/signer"
)

// KeySource is where a provider's private key comes from: Key (any signer.Key, including a
// KMS/HSM one), else PEM (the key file's text, in any format signer reads), else File;
// Password when the key is encrypted. Env is the prefix of the provider's variables
// ("PISMO": PISMO_PRIVATE_KEY_FILE, PISMO_PRIVATE_KEY, ...), used to name problems.
type KeySource struct {
	Key      *signer.Key
	PEM      client.Secret
	File     string
	Password client.Secret
	Env      string
}

// Check adds a problem unless exactly one of Key, PEM and File is set.
func (k KeySource) Check(p *Problems) {
	switch {
	case k.Key != nil:
	case k.PEM != "" && k.File != "":
		p.Add("PrivateKeyPEM", k.Env+"_PRIVATE_KEY", "set either %s_PRIVATE_KEY or %s_PRIVATE_KEY_FILE, not both", k.Env, k.Env)
	case k.PEM == "" && k.File == "":
		p.Add("PrivateKeyFile", k.Env+"_PRIVATE_KEY_FILE", "required (or %s_PRIVATE_KEY with the PEM text)", k.Env)
	}
}

// Load returns Key, or loads the key from PEM or File. A failure is a *client.ConfigError of
// provider naming the variable (signer's messages never hold key material).
func (k KeySource) Load(provider string) (*signer.Key, error) {
	if k.Key != nil {
		return k.Key, nil
	}
	var opts []signer.LoadOption
	if k.Password != "" {
		opts = append(opts, signer.WithPassphrase([]byte(k.Password)))
	}
	field, variable := "PrivateKeyFile", k.Env+"_PRIVATE_KEY_FILE"
	var key *signer.Key
	var err error
	if k.PEM != "" {
		field, variable = "PrivateKeyPEM", k.Env+"_PRIVATE_KEY"
		key, err = signer.ParseKey([]byte(k.PEM), opts...)
	} else {
		key, err = signer.LoadKeyFile(k.File, opts...)
	}
	password := k.Env + "_PRIVATE_KEY_PASSWORD"
	switch {
	case err == nil:
		return key, nil
	case errors.Is(err, signer.ErrPassphraseRequired):
		return nil, Problemf(provider, "PrivateKeyPassword", password, "the key in %s is passphrase-protected: set %s to its passphrase", variable, password)
	case errors.Is(err, signer.ErrWrongPassphrase):
		return nil, Problemf(provider, "PrivateKeyPassword", password, "the passphrase is wrong: it does not decrypt the key in %s", variable)
	}
	return nil, Problemf(provider, field, variable, "%v", err)
}

// Signer loads the key and makes a signer.Signer with opts; a key that cannot sign with the
// algorithm asked is a problem of field (its variable env).
func (k KeySource) Signer(provider string, opts signer.Options, field, env string) (*signer.Signer, error) {
	key, err := k.Load(provider)
	if err != nil {
		return nil, err
	}
	s, err := signer.New(key, opts)
	if err != nil {
		return nil, Problemf(provider, field, env, "%v", err)
	}
	return s, nil
}
