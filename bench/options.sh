# The options every bench script here takes, parsed in one place; source it before the script's option loop.
# common_option "$@" sets BUILD, REPO, JAR, JVM_FLAGS (and JVM_FLAGS_GIVEN), PORT_BASE, RESULTS or KEEP from the first
# word(s) and returns 1 when the first word is none of these options; COMMON_WORDS says how many words it took, so the
# caller shifts by COMMON_WORDS - 1 before its loop's own shift.
common_option() {
    COMMON_WORDS=2
    case "$1" in
        --no-build) BUILD=0; COMMON_WORDS=1 ;;
        --repo) REPO=$(cd "$2" && pwd) ;;
        --jar) JAR=$2 ;;
        --jvm-flags) JVM_FLAGS=$2; JVM_FLAGS_GIVEN=1 ;;
        --port-base) PORT_BASE=$2 ;;
        --results) RESULTS=$2 ;;
        --keep) KEEP=1; COMMON_WORDS=1 ;;
        *) return 1 ;;
    esac
}

# whole_numbers SCRIPT VALUE...: exits 64 with "SCRIPT: not a whole number: VALUE" unless every VALUE is one.
whole_numbers() {
    local script=$1 n
    shift
    for n in "$@"; do
        [[ $n =~ ^[0-9]+$ ]] || { echo "$script: not a whole number: $n" >&2; exit 64; }
    done
}

# check_skip SCRIPT PART...: exits 64 unless every part that --skip named (SKIP, as ",a,b,") is one of PART...
check_skip() {
    local script=$1 part
    shift
    for part in ${SKIP//,/ }; do
        [[ " $* " == *" $part "* ]] || {
            local expected="$*"
            echo "$script: --skip: unknown part $part (expected: ${expected// /, })" >&2
            exit 64
        }
    done
}

# skipped PART: whether --skip named PART.
skipped() { [[ $SKIP == *",$1,"* ]]; }
