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
