package main

// noneCLI sends requests without credentials: the baseline a load run of a profile is
// compared with.
type noneCLI struct{}

func (noneCLI) name() string { return "none" }

func (noneCLI) about(cmd string) string {
	if cmd == "call" {
		return "no credentials: a baseline for load"
	}
	return ""
}

func (noneCLI) bindings() []binding { return nil }

func (noneCLI) ownFlags(*flags, string) {}

func (noneCLI) connect(_ *app, _ *flags, n *network) (*session, error) {
	base, _, err := n.base()
	if err != nil {
		return nil, err
	}
	return &session{rt: base, close: func() {}}, nil
}
