/* err: the code table, messages and the err-buffer helper. */
#include <errno.h>

#include "rnnjam/err.h"
#include "test.h"

int main(void) {
  char err[RNJ_ERR_LEN];
  char longer[2 * RNJ_ERR_LEN];

  ASSERT_STR_EQ(rnj_strerror(RNJ_EFORMAT), "malformed file");
  ASSERT_STR_EQ(rnj_err_name(RNJ_EFORMAT), "RNJ_EFORMAT");
  ASSERT_STR_EQ(rnj_err_name(RNJ_ESHAPE), "RNJ_ESHAPE");
  /* negative errno passes through to the system's text */
  ASSERT_STR_EQ(rnj_strerror(-ENOENT), strerror(ENOENT));
  ASSERT_STR_EQ(rnj_err_name(-ENOENT), "ENOENT");
  ASSERT_STR_EQ(rnj_strerror(0), "success");
  ASSERT_STR_EQ(rnj_strerror(-5000), "unknown error");

  ASSERT_EQ(rnj_errorf(err, RNJ_EIO, "%s: %d", "x.mid", 7), RNJ_EIO);
  ASSERT_STR_EQ(err, "x.mid: 7");
  ASSERT_EQ(rnj_errorf(NULL, RNJ_EIO, "ignored"), RNJ_EIO);

  /* the message is bounded and terminated */
  memset(longer, 'a', sizeof longer - 1);
  longer[sizeof longer - 1] = 0;
  rnj_errorf(err, RNJ_EIO, "%s", longer);
  ASSERT_EQ(strlen(err), RNJ_ERR_LEN - 1);
  return 0;
}
