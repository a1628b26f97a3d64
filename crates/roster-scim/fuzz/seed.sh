#!/bin/sh
# Writes seed corpora for the fuzz targets into fuzz/corpus/<target>/ (ignored by git):
# the RFC 7644 examples, the catalog's extra vectors, and the request shapes Entra ID and
# Okta send. Run from crates/roster-scim:  sh fuzz/seed.sh
set -eu
cd "$(dirname "$0")"
seed() { # seed TARGET NAME CONTENT
    mkdir -p "corpus/$1"
    printf '%s' "$3" > "corpus/$1/$2"
}

i=0
while IFS= read -r line; do
    i=$((i + 1))
    seed filter_parse "rfc$i" "$line"
done <<'FILTERS'
userName eq "bjensen"
name.familyName co "O'Malley"
userName sw "J"
urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"
title pr
meta.lastModified gt "2011-05-13T04:42:34Z"
title pr and userType eq "Employee"
title pr or userType eq "Intern"
schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")
userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")
userType eq "Employee" and emails[type eq "work" and value co "@example.com"]
emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]
a pr or b pr and c pr
not(userName eq "x")
USERNAME EQ "bjensen"
urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915"
emails[type eq "work"].value eq "a@b.c"
displayName eq "a \"q\" b"
displayName eq "caf\u00e9 \ud83d\ude00"
userName eq bjensen
active eq "True" and emails[primary eq true]
members[value eq "1" or value eq "2"].$ref pr
meta.version ge 1.5e3 and x eq -0 and y eq null
FILTERS

i=0
while IFS= read -r line; do
    i=$((i + 1))
    seed path_parse "path$i" "$line"
done <<'PATHS'
members
name.familyName
addresses[type eq "work"]
members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName
urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager
urn:ietf:params:scim:schemas:extension:enterprise:2.0:User
emails[type eq "work" and primary eq true].value
roles[primary eq "True"].display
PATHS

seed patch_apply entra_user '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"displayName","value":"New"},{"op":"Add","path":"emails[type eq \"work\"].value","value":"w@x.io"},{"op":"Add","path":"emails[type eq \"work\"].primary","value":"True"},{"op":"Replace","path":"active","value":"False"},{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m1"},{"op":"Remove","path":"addresses[type eq \"work\"].locality"}]}'
seed patch_apply okta_deactivate '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}'
seed patch_apply group_members '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"value":"u1"},{"value":"u2"}]},{"op":"Remove","path":"members","value":[{"value":"u1"}]},{"op":"remove","path":"members[value eq \"u2\"]"},{"op":"replace","value":{"id":"e9e30dba-f08f-4109-8486-d5c6a331660a","displayName":"Renamed"}}]}'
seed patch_apply pathless '{"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"X","name.givenName":"G","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"costCenter":"c"}}},{"op":"remove","path":"phoneNumbers"},{"op":"replace","path":"emails","value":[]}]}'

seed resource_validate entra_user '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2","userName":"Test_User_ab6490ee@testuser.com","active":true,"displayName":"Test User","emails":[{"primary":true,"type":"work","value":"Test_User_fd0ea19b@testuser.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[{"primary":"True","value":"admin"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Dept","manager":"m1"}}'
seed resource_validate okta_user '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"isaac.brock@example.com","name":{"givenName":"Isaac","familyName":"Brock"},"emails":[{"primary":true,"value":"isaac.brock@example.com","type":"work"}],"displayName":"Isaac Brock","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}'
seed resource_validate group '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"Group1DisplayName","externalId":"9","members":[{"value":"u1","type":"User"},{"value":"u1"}]}'
echo "seeded: $(find corpus -type f | wc -l) files"
