# bench/lib.sh: sourced by the benches.
#
# free_ports N: prints a port P such that no socket on this machine uses
# P .. P+N-1 (ss, every state), picked at random in 20000..31999, below the
# kernel's ephemeral range (32768 and up by default) where the outgoing
# connections of other test runs take their local ports.  A port taken
# between this check and the server's bind still fails that server, which
# the benches check.
free_ports() {
    local n=$1 p i tries taken
    taken=$(ss -Htan | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u)
    for tries in $(seq 50); do
        p=$((20000 + RANDOM % 12000))
        for i in $(seq 0 $((n - 1))); do
            echo "$taken" | grep -qx "$((p + i))" && continue 2
        done
        echo "$p"
        return 0
    done
    echo "free_ports: no $n free ports in 50 tries" >&2
    return 1
}
