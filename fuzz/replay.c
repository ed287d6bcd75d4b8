/*
 * replay: the fuzz targets without libFuzzer, for make fuzz-regress.
 * Each argument is a file, or a folder whose files are each one input;
 * every input goes once through LLVMFuzzerTestOneInput.  A broken
 * contract aborts, so the exit status fails the run; a folder that does
 * not exist is skipped (a target may have no regressions yet).
 */

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "fuzz.h"


#define REPLAY_INPUT_MAX  (1 << 20)


static int
replay_file(const char *path, uint8_t *buf, unsigned long *count)
{
    FILE     *f;
    size_t    n;
    uint8_t  *copy;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }

    n = fread(buf, 1, REPLAY_INPUT_MAX, f);

    if (ferror(f)) {
        fprintf(stderr, "replay: %s: read error\n", path);
        fclose(f);
        return -1;
    }

    fclose(f);

    /* a copy of exactly n bytes, so a read past the input is caught */
    copy = malloc(n ? n : 1);
    if (copy == NULL) {
        fprintf(stderr, "replay: out of memory\n");
        return -1;
    }

    memcpy(copy, buf, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);

    (*count)++;
    return 0;
}


int
main(int argc, char **argv)
{
    int             i, rc;
    char            path[4096];
    DIR            *d;
    uint8_t        *buf;
    struct stat     st;
    struct dirent  *de;
    unsigned long   count;

    buf = malloc(REPLAY_INPUT_MAX);
    if (buf == NULL) {
        fprintf(stderr, "replay: out of memory\n");
        return 1;
    }

    rc = 0;
    count = 0;

    for (i = 1; i < argc; i++) {
        if (stat(argv[i], &st) != 0) {
            if (errno == ENOENT) {
                continue;
            }

            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
            continue;
        }

        if (!S_ISDIR(st.st_mode)) {
            rc |= replay_file(argv[i], buf, &count) != 0;
            continue;
        }

        d = opendir(argv[i]);
        if (d == NULL) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
            continue;
        }

        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.') {
                continue;
            }

            snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
            rc |= replay_file(path, buf, &count) != 0;
        }

        closedir(d);
    }

    free(buf);

    printf("%s: %lu inputs replayed%s\n", argv[0], count,
           rc ? ", with errors" : "");

    return rc;
}
