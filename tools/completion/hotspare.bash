# bash completion for hotspare: commands, options, server names and point ids.
# Commands and options come from the binary's own --help, servers and points
# from `hotspare points [STORE] [SERVER] --json` (the configured store when
# the line names none), so they follow the binary being completed.

# The first line of output of the binary, at most 5 s (a remote store may stall).
_hotspare_run() {
	local bin=${COMP_WORDS[0]}
	[[ $bin == */* || -z $bin ]] || bin=$(type -P "$bin" 2>/dev/null) || bin=hotspare
	timeout 5 "${bin/#\~/$HOME}" "$@" 2>/dev/null
}

# The subcommands, from `hotspare --help` (kept for the shell's life).
_hotspare_commands() {
	[[ -n ${_hotspare_cmds-} ]] || _hotspare_cmds=$(_hotspare_run --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
	printf '%s\n' $_hotspare_cmds
}

# The options of a subcommand ($1), from its --help; with "values", only
# those that take a value (an option followed by a word, as in "--state DIR").
_hotspare_options() {
	local help
	help=$(_hotspare_run "$1" --help)
	if [[ ${2-} == values ]]; then
		grep -o -- '--[a-z][a-z-]* [A-Za-z]' <<<"$help" | sed 's/ .*//'
		printf '%s\n' --keyfile --passphrase-file --credentials-file
	else
		grep -o -- '--[a-z][a-z-]*' <<<"$help"
		printf '%s\n' --keyfile --passphrase-file --credentials-file --help
	fi | sort -u
}

# Server names of the store $1 (empty: the configured store).
_hotspare_servers() {
	_hotspare_run points ${1:+"$1"} --json | sed -n 's/^ *"server": *"\([^"]*\)".*/\1/p'
}

# SERVER@ID for every point of server $2 in store $1 (empty: configured), and SERVER@latest.
_hotspare_points() {
	_hotspare_run points ${1:+"$1"} "$2" --json | sed -n "s/^ *\"id\": *\"\\([^\"]*\\)\".*/$2@\\1/p"
	printf '%s@latest\n' "$2"
}

# Is $1 a store given on the command line (a URL, or something that exists)?
_hotspare_is_store() {
	[[ $1 == *://* || -e $1 ]]
}

_hotspare() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} cmd=${COMP_WORDS[1]-}
	local IFS=$'\n'
	COMPREPLY=()
	if ((COMP_CWORD == 1)); then
		COMPREPLY=($(compgen -W "$(_hotspare_commands; printf '%s\n' --help --version)" -- "$cur"))
		return
	fi
	# An option's value.
	case $prev in
	--profile) COMPREPLY=($(compgen -W $'linux\nwindows' -- "$cur")); return ;;
	--format) COMPREPLY=($(compgen -W $'raw\nqcow2\nvmdk\nvhdx' -- "$cur")); return ;;
	--connect) COMPREPLY=($(compgen -W $'qemu:///system\nqemu:///session' -- "$cur")); return ;;
	--seed | --state | --report | --work-dir | --ship | --mountpoint | --keyfile | --passphrase-file | \
		--credentials-file | --boot-trace | --store | --encrypt | --master-key | --master-pubkey | --html | \
		--drills | --check-script | --output)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_hotspare_options "$cmd")" -- "$cur"))
		return
	fi
	if [[ $prev == --* ]] && _hotspare_options "$cmd" values | grep -qx -- "$prev"; then
		return # a value nobody can guess (a number, a name)
	fi
	# The positional arguments before this one.
	local -a pos=()
	local i w takes
	takes=$(_hotspare_options "$cmd" values)
	for ((i = 2; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == --*=* ]]; then continue; fi
		if [[ $w == -* ]]; then
			grep -qx -- "$w" <<<"$takes" && ((i++))
			continue
		fi
		pos+=("$w")
	done
	local n=${#pos[@]} store= ref=
	case $cmd in
	status | umount | checkpoint | failback | scrub)
		COMPREPLY=($(compgen -W "$(awk '$3 == "fuse.hotspare" { print $2 }' /proc/mounts 2>/dev/null)" -- "$cur")
			$(compgen -d -- "$cur"))
		return
		;;
	key)
		((n == 0)) && COMPREPLY=($(compgen -W $'create\nrecover' -- "$cur")) || COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	config)
		((n == 0)) && COMPREPLY=($(compgen -W "$(_hotspare_servers)" -- "$cur"))
		return
		;;
	snapshot | backup | points) ref=server ;;
	verify | restore | mount | drill | failover | browse | export) ref=point ;;
	init | replicate | upgrade) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	*) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	# STORE SERVER[@POINT] ...: STORE may be left out when one is configured.
	if ((n == 0)); then
		COMPREPLY=($(compgen -f -- "$cur"))
		[[ $cur == *@* ]] || COMPREPLY+=($(compgen -W "$(_hotspare_servers)" -- "$cur"))
	elif ((n == 1)) && _hotspare_is_store "${pos[0]}"; then
		store=${pos[0]}
		[[ $cur == *@* ]] || COMPREPLY=($(compgen -W "$(_hotspare_servers "$store")" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	if [[ $cur == *@* && $ref == point ]]; then
		COMPREPLY=($(compgen -W "$(_hotspare_points "$store" "${cur%%@*}")" -- "$cur"))
	fi
}
complete -o filenames -o bashdefault -F _hotspare hotspare
