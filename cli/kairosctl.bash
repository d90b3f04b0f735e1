# bash completion for kairosctl(1).
_kairosctl()
{
    local cur prev words cword
    _init_completion || return
    local i cmd="" verb=""
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        --config | -u | --url | -t | --token-file | -f | --format | -c | --column | --project | --since | --limit) ((i++)) ;;
        -*) ;;
        *) if [[ -z $cmd ]]; then cmd=${words[i]}; elif [[ -z $verb ]]; then verb=${words[i]}; fi ;;
        esac
    done
    case $prev in
    --config | -t | --token-file) _filedir; return ;;
    -f | --format) COMPREPLY=($(compgen -W "table json yaml value" -- "$cur")); return ;;
    --sort) COMPREPLY=($(compgen -W "project kind quota allocated used percent drift" -- "$cur")); return ;;
    --plan) COMPREPLY=($(compgen -W "small medium large" -- "$cur")); return ;;
    --since) COMPREPLY=($(compgen -W "1h 1d 7d" -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        local opts="--help --version --format --column --json --no-color"
        case $cmd/$verb in
        /) opts+=" --config --url --token-file" ;;
        project/create) opts+=" --plan --quota" ;;
        project/delete) opts+=" --force" ;;
        quota/set) opts+=" --below-usage" ;;
        usage/*) opts+=" --sort --desc" ;;
        volume/break-lock) opts+=" --force" ;;
        volume/create | share/create | bucket/create)
            opts+=" --size --from --from-project --max-files --max-objects --wait" ;;
        */delete) opts+=" --force --wait" ;;
        */resize) opts+=" --shrink" ;;
        volume/flatten | operation/show) opts+=" --wait" ;;
        binding/create) opts+=" --read-only" ;;
        token/create) opts+=" --description" ;;
        audit/) opts+=" --project --since --limit" ;;
        esac
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "project quota usage capacity volumes shares buckets volume share bucket snapshot binding token drift operation cluster audit" -- "$cur"))
    elif [[ -z $verb ]]; then
        case $cmd in
        project) COMPREPLY=($(compgen -W "create list show delete" -- "$cur")) ;;
        quota) COMPREPLY=($(compgen -W "set show" -- "$cur")) ;;
        token) COMPREPLY=($(compgen -W "create list revoke" -- "$cur")) ;;
        drift) COMPREPLY=($(compgen -W "show policy" -- "$cur")) ;;
        volume) COMPREPLY=($(compgen -W "create resize delete show list flatten break-lock" -- "$cur")) ;;
        share | bucket) COMPREPLY=($(compgen -W "create resize delete show list" -- "$cur")) ;;
        snapshot) COMPREPLY=($(compgen -W "create list delete" -- "$cur")) ;;
        binding) COMPREPLY=($(compgen -W "create list show delete" -- "$cur")) ;;
        operation) COMPREPLY=($(compgen -W "show" -- "$cur")) ;;
        audit) COMPREPLY=($(compgen -W "trim" -- "$cur")) ;;
        esac
    elif [[ $cmd == quota && $verb == set ]]; then
        COMPREPLY=($(compgen -W "volume.bytes= volume.count= share.bytes= share.count= bucket.bytes= bucket.count= snapshot.count= total.bytes=" -- "$cur"))
        compopt -o nospace
    fi
} &&
    complete -F _kairosctl kairosctl
