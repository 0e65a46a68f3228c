/* Shared by every public header: symbol visibility and the package version.
 *
 * The library is built with -fvisibility=hidden; only declarations marked
 * RNJ_EXTERN are part of the ABI.  Internals shared between library files are
 * named rnj__* and are never exported.
 */
#ifndef RNNJAM_COMMON_H
#define RNNJAM_COMMON_H

#if defined(__GNUC__) && defined(RNJ_BUILDING_LIBRARY)
#define RNJ_EXTERN __attribute__((visibility("default")))
#else
#define RNJ_EXTERN
#endif

#endif
