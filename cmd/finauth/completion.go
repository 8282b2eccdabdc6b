package main

import (
	"fmt"
	"strings"
)

// completion is added in init: it lists commands, which would otherwise refer to itself.
func init() {
	commands = append(commands, struct {
		name, summary string
		run           func(a *app, args []string) error
	}{"completion", "completion bash|zsh|fish: print a shell completion script", (*app).completion})
}

// completion prints a shell completion script: commands, sub-commands, each command's flags
// (read from its --help when completing) and file names.
func (a *app) completion(args []string) error {
	fs := a.newFlags("completion", "completion bash|zsh|fish")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("completion needs the shell: bash, zsh or fish (e.g. source <(finauth completion bash))")
	}
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	cmds := strings.Join(names, " ")
	switch pos[0] {
	case "bash":
		fmt.Fprint(a.stdout, bashCompletion(cmds))
	case "zsh":
		fmt.Fprint(a.stdout, "autoload -U +X bashcompinit && bashcompinit\n"+bashCompletion(cmds))
	case "fish":
		fmt.Fprintf(a.stdout, `complete -c finauth -f -n '__fish_use_subcommand' -a '%s'
complete -c finauth -f -n '__fish_seen_subcommand_from mint; and not __fish_seen_subcommand_from %[2]s' -a '%[2]s'
complete -c finauth -f -n '__fish_seen_subcommand_from token; and not __fish_seen_subcommand_from %[3]s' -a '%[3]s'
complete -c finauth -f -n '__fish_seen_subcommand_from authorize; and not __fish_seen_subcommand_from %[4]s' -a '%[4]s'
complete -c finauth -f -n '__fish_seen_subcommand_from sign; and not __fish_seen_subcommand_from %[5]s' -a '%[5]s'
complete -c finauth -f -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'
`, cmds, servingNames[minter](" "), servingNames[tokenSource](" "), servingNames[authorizer](" "), servingNames[requestSigner](" "))
	default:
		return usagef("completion %q: use bash, zsh or fish", pos[0])
	}
	return nil
}

func bashCompletion(cmds string) string {
	return `# finauth completion for bash: source <(finauth completion bash)
_finauth() {
  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} sub=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "` + cmds + `" -- "$cur")); return
  fi
  case "$cmd" in
    mint) sub="` + servingNames[minter](" ") + `" ;;
    token) sub="` + servingNames[tokenSource](" ") + `" ;;
    authorize) sub="` + servingNames[authorizer](" ") + `" ;;
    sign) sub="` + servingNames[requestSigner](" ") + `" ;;
    completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")); return ;;
  esac
  if [ -n "$sub" ] && [ "$COMP_CWORD" -eq 2 ]; then
    COMPREPLY=($(compgen -W "$sub" -- "$cur")); return
  fi
  if [[ $cur == -* ]]; then
    local words=("$cmd"); [ -n "$sub" ] && words+=("${COMP_WORDS[2]}")
    COMPREPLY=($(compgen -W "$(finauth "${words[@]}" --help 2>&1 | sed -n 's/^  -\([a-zA-Z][a-zA-Z-]*\).*/--\1/p')" -- "$cur")); return
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _finauth finauth
`
}
