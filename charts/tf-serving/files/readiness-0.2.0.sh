export LC_ALL=C
port=$1 deadline=$((SECONDS + $2)) config=$3 mode=${4:-live} snapshot=${5:-/tmp}/tf-serving-readiness.models
plain='^[A-Za-z0-9][A-Za-z0-9_.-]*$'
available='"state"[[:space:]]*:[[:space:]]*"AVAILABLE"'
token=$'^[[:space:],;]*([][{}<>:]|"([^"\\\\]|\\\\.)*"|\'([^\'\\\\]|\\\\.)*\'|[^][[:space:]{}<>:,;"\'#]+)(.*)$'
rest='^[[:space:],;]*(#.*)?$'
models=()
# path: the enclosing message fields; lists[depth]: the field of an open [ ... ] list at that depth.
parse() {
  local line tok n=0 field='' value='' path=() lists=()
  [[ -f $1 && -r $1 ]] || { echo "cannot read model config $1" >&2; return 1; }
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    while [[ $line =~ $token ]]; do
      tok=${BASH_REMATCH[1]} line=${BASH_REMATCH[4]}
      case $tok in
        :) value=1; continue ;;
        '{' | '<') field=${lists[${#path[@]}]:-$field}; path+=("$field") ;;
        '}' | '>') ((${#path[@]})) || { echo "$1:$n: unbalanced '$tok'" >&2; return 1; }; unset 'path[-1]' ;;
        '[') lists[${#path[@]}]=$field ;;
        ']') unset 'lists[${#path[@]}]' ;;
        [\"\']*)
          if [[ $value && $field == name && ${path[*]} == 'model_config_list config' ]]; then
            tok=${tok:1:-1}
            [[ $tok =~ $plain ]] || { echo "$1:$n: model name '$tok' is not a plain URL path segment" >&2; return 1; }
            models+=("$tok")
          fi ;;
        *) [[ $value ]] || { field=$tok; continue; } ;;
      esac
      value=''
    done
    [[ $line =~ $rest ]] || { echo "$1:$n: cannot parse: $line" >&2; return 1; }
  done <"$1"
  ((${#path[@]} == 0)) || { echo "$1: '${path[-1]}' is not closed" >&2; return 1; }
  ((${#models[@]})) || { echo "no model names in $1 (model_config_list { config { name: \"...\" } })" >&2; return 1; }
}
# save NAME...: replace the snapshot (temporary file + rename). A failure only costs the snapshot.
save() {
  local tmp=$snapshot.$$
  { if (($#)); then printf '%s\n' "$@"; fi; } >"$tmp" && mv -f "$tmp" "$snapshot" && return
  rm -f "$tmp"
  echo "cannot write the model snapshot $snapshot: this run checks the models in $config" >&2
}
# restore: the snapshot's names into started (one plain name per line; an empty file is no model).
restore() {
  local name
  started=()
  while IFS= read -r name || [[ -n $name ]]; do
    [[ $name =~ $plain ]] || return 1
    started+=("$name")
  done
}
remaining() { left=$((deadline - SECONDS)); ((left > 0)); }
get() {
  local line rc length=-1
  response='' status='' code=''
  exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "REST port $port is not open" >&2; return 1; }
  printf 'GET /v1/models/%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$1" "$port" >&3
  remaining && IFS= read -r -t "$left" status <&3 || { echo "no status line from /v1/models/$1 in time" >&2; return 1; }
  while remaining && IFS= read -r -t "$left" line <&3; do
    line=${line%$'\r'}
    [[ -z $line ]] && break
    [[ ${line,,} =~ ^content-length:[[:space:]]*([0-9]+) ]] && length=${BASH_REMATCH[1]}
  done
  if ((length >= 0)); then
    ((length == 0)) || { remaining && IFS= read -r -N "$length" -t "$left" response <&3; } || { echo "body of /v1/models/$1 not complete in time" >&2; return 1; }
  else
    while :; do
      remaining || { echo "body of /v1/models/$1 not complete in time" >&2; return 1; }
      IFS= read -r -t "$left" line <&3; rc=$?
      response+=$line$'\n'
      ((rc == 0)) || break
    done
    ((rc > 128)) && { echo "body of /v1/models/$1 not complete in time" >&2; return 1; }
  fi
  exec 3<&-
  [[ $status =~ ^HTTP/1\.[01][[:space:]]([0-9]{3}) ]] && code=${BASH_REMATCH[1]}
}
parse "$config" || exit 1
if [[ $mode == snapshot ]]; then
  if [[ ! -e $snapshot ]]; then
    save "${models[@]}"
  elif restore 2>/dev/null <"$snapshot"; then
    live=" ${models[*]} " models=()
    for model in "${started[@]}"; do
      if [[ $live == *" $model "* ]]; then
        models+=("$model")
      else
        echo "model $model is no longer in $config: not checked" >&2
      fi
    done
    ((${#models[@]} == ${#started[@]})) || save "${models[@]}"
  else
    echo "model snapshot $snapshot is unreadable: replaced by the models in $config" >&2
    save "${models[@]}"
  fi
  ((${#models[@]})) || echo "none of the models the server started with is left in $config: nothing to check" >&2
elif [[ $mode != live ]]; then
  echo "unknown mode '$mode' (live or snapshot): checking the models in $config" >&2
fi
for model in "${models[@]}"; do
  get "$model" || exit 1
  case $code in
    200) [[ $response =~ $available ]] || { echo "model $model has no AVAILABLE version: ${response//[[:space:]]/ }" >&2; exit 1; } ;;
    404)
      echo "model $model is not known to the server yet (404): skipped" >&2
      if [[ $mode == snapshot ]]; then
        kept=()
        for name in "${models[@]}"; do [[ $name == "$model" ]] || kept+=("$name"); done
        models=("${kept[@]}")
        echo "model $model was not loaded at start: dropped from $snapshot" >&2
        save "${models[@]}"
      fi ;;
    *) echo "/v1/models/$model: ${status%$'\r'}" >&2; exit 1 ;;
  esac
done
