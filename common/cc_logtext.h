/*
 * cc_logtext: outside text (a wallet's answer, its body, an error it
 * sent) made fit for one log line, so that what the wallet or a man in
 * the middle writes can neither start a line of its own, nor move the
 * terminal, nor fill the disk:
 *
 *   printable ASCII (0x20..0x7e) is copied, except '\' which is "\\";
 *   '\n', '\r', '\t' are "\n", "\r", "\t";
 *   every other byte (controls, DEL, any byte >= 0x80, NUL) is "\xHH".
 *
 * The output is NUL-terminated and at most outlen - 1 bytes; an escape is
 * never cut in half, and a text that does not fit ends in "..." (the
 * reader sees it was cut).  Plain C, no allocation.
 */

#ifndef CC_LOGTEXT_H
#define CC_LOGTEXT_H

#include <stddef.h>

/* the bytes written (without the NUL); outlen 0 writes nothing */
size_t cc_logtext(char *out, size_t outlen, const char *in, size_t inlen);

#endif /* CC_LOGTEXT_H */
