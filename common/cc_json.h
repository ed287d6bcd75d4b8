/*
 * cc_json: the checks cJSON does not make, for the JSON texts that enter
 * from outside (the Kafka events, the external wallet's answers).
 *
 * cJSON reads every number as a double and keeps no text of it, so 007,
 * 7.0, 7e0 and 7.0000000000000001 all read as 7; it keeps a NUL inside a
 * string (raw or \u0000), which every C reader of the string stops at;
 * and it takes any control byte for a blank.
 * Our formats carry integers only (counts, cents, milliseconds), written
 * one way, so these checks run on the text before the values are used.
 * Plain C, no allocation.
 */

#ifndef CC_JSON_H
#define CC_JSON_H

#include <stddef.h>

/*
 * 1 when the text has a NUL, raw or as the escape \u0000 inside a string
 * (an escaped backslash escapes nothing after it), else 0.
 */
int cc_json_has_nul(const char *p, size_t len);

/*
 * 1 when the text has a control byte (below 0x20) other than JSON's
 * blanks tab, newline and carriage return, else 0.  cJSON takes any byte
 * up to 0x20 for a blank ("ts":<0x13>526 read as 526) and keeps raw
 * control bytes inside strings; JSON allows neither.
 */
int cc_json_has_ctl(const char *p, size_t len);

/*
 * 1 when every number outside the strings is an integer written the one
 * way: "0", or an optional '-' then a digit 1..9 and digits; no fraction,
 * no exponent, no '+', no leading zero, no "-0".  Else 0.  For a text
 * cJSON took (it is not a JSON validator).
 */
int cc_json_ints_canonical(const char *p, size_t len);

/*
 * 1 when the object's own member KEY (written without escapes, the first
 * of that name, as cJSON finds it) has a number in that one form as its
 * value, else 0 (no such member, another value, another form).  Numbers
 * elsewhere in the text are not looked at: for a text from someone else
 * (the wallet), whose other fields are theirs.
 */
int cc_json_member_int_canonical(const char *p, size_t len, const char *key);

#endif /* CC_JSON_H */
