# bench/lib.sh: sourced by the benches.
#
# free_ports N: prints a port P such that P .. P+N-1 have no listener on
# this machine (ss), picked at random in 20000..39999.  Other test runs on
# a shared machine take random ports too; a port taken between this check
# and the server's bind still fails that server, which the benches check.
free_ports() {
    local n=$1 p i tries taken
    taken=$(ss -Htln | awk '{ n = split($4, a, ":"); print a[n] }')
    for tries in $(seq 50); do
        p=$((20000 + RANDOM % 20000))
        for i in $(seq 0 $((n - 1))); do
            echo "$taken" | grep -qx "$((p + i))" && continue 2
        done
        echo "$p"
        return 0
    done
    echo "free_ports: no $n free ports in 50 tries" >&2
    return 1
}
