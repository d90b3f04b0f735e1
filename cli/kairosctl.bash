# bash completion for kairosctl(1).
_kairosctl()
{
    local cur prev words cword
    _init_completion || return
    local i cmd="" verb=""
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        -c | --config | -u | --url | -t | --token-file) ((i++)) ;;
        -*) ;;
        *) if [[ -z $cmd ]]; then cmd=${words[i]}; elif [[ -z $verb ]]; then verb=${words[i]}; fi ;;
        esac
    done
    case $prev in
    -c | --config | -t | --token-file) _filedir; return ;;
    --sort) COMPREPLY=($(compgen -W "project kind quota allocated used percent drift" -- "$cur")); return ;;
    --plan) COMPREPLY=($(compgen -W "small medium large" -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        local opts="--help --version --json --no-color"
        case $cmd/$verb in
        /) opts+=" --config --url --token-file" ;;
        project/create) opts+=" --plan --quota" ;;
        project/delete) opts+=" --force" ;;
        quota/set) opts+=" --below-usage" ;;
        usage/*) opts+=" --sort --desc" ;;
        volume/break-lock) opts+=" --force" ;;
        esac
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "project quota usage capacity volumes shares buckets token drift volume" -- "$cur"))
    elif [[ -z $verb ]]; then
        case $cmd in
        project) COMPREPLY=($(compgen -W "create list show delete" -- "$cur")) ;;
        quota) COMPREPLY=($(compgen -W "set show" -- "$cur")) ;;
        token) COMPREPLY=($(compgen -W "create list revoke" -- "$cur")) ;;
        drift) COMPREPLY=($(compgen -W "show policy" -- "$cur")) ;;
        volume) COMPREPLY=($(compgen -W "break-lock" -- "$cur")) ;;
        esac
    elif [[ $cmd == quota && $verb == set ]]; then
        COMPREPLY=($(compgen -W "volume.bytes= volume.count= share.bytes= share.count= bucket.bytes= bucket.count= snapshot.count= total.bytes=" -- "$cur"))
        compopt -o nospace
    fi
} &&
    complete -F _kairosctl kairosctl
