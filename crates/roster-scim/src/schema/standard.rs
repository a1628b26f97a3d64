//! The standard schemas of RFC 7643 §8.7, as Roster serves them. Where the RFC text and
//! its §8.7.1 JSON disagree, the text wins (C-11, C-12 in the requirements catalog):
//! Group `displayName` is required, `addresses.primary` and `members.display` exist.

use super::{AttrType as T, AttributeDef as A, Mutability as M, Returned as R, Schema, Uniqueness as U};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// `value`, `display`, `type`, `primary`: the usual sub-attributes of a multi-valued
/// attribute (RFC 7643 §2.4).
fn multi_subs(value_desc: &str, value_type: T, types: &[&str]) -> Vec<A> {
    let value = A::new("value", value_type, value_desc);
    let value = match value_type {
        T::Reference => value.references(&["external"]),
        // Base64 data is case-exact (RFC 7643 §2.3.6): folding it would equate different bytes.
        T::Binary => value.case_exact(),
        _ => value,
    };
    vec![
        value,
        A::new("display", T::String, "A human-readable name, primarily used for display purposes."),
        A::new("type", T::String, "A label indicating the attribute's function.").canonical(types),
        A::new(
            "primary",
            T::Boolean,
            "A Boolean value indicating the 'primary' or preferred attribute value for this attribute. \
             The primary attribute value 'true' MUST appear no more than once.",
        ),
    ]
}

pub(super) fn user_schema() -> Schema {
    Schema {
        id: USER.into(),
        name: "User".into(),
        description: "User Account".into(),
        attributes: vec![
            A::new(
                "userName",
                T::String,
                "Unique identifier for the User, typically used by the user to directly authenticate to the \
                 service provider. Each User MUST include a non-empty userName value. This identifier MUST be \
                 unique across the service provider's entire set of Users. Roster does not allow it to change \
                 once the user is provisioned.",
            )
            .required()
            .uniqueness(U::Server),
            A::new("name", T::Complex, "The components of the user's real name.").subs(vec![
                A::new("formatted", T::String, "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."),
                A::new("familyName", T::String, "The family name of the User, or last name in most Western languages."),
                A::new("givenName", T::String, "The given name of the User, or first name in most Western languages."),
                A::new("middleName", T::String, "The middle name(s) of the User."),
                A::new("honorificPrefix", T::String, "The honorific prefix(es) of the User, or title in most Western languages."),
                A::new("honorificSuffix", T::String, "The honorific suffix(es) of the User, or suffix in most Western languages."),
            ]),
            A::new("displayName", T::String, "The name of the User, suitable for display to end-users."),
            A::new("nickName", T::String, "The casual way to address the user in real life."),
            A::new("profileUrl", T::Reference, "A fully qualified URL pointing to a page representing the User's online profile.")
                .references(&["external"]),
            A::new("title", T::String, "The user's title, such as \"Vice President\"."),
            A::new("userType", T::String, "Used to identify the relationship between the organization and the user, e.g. 'Employee' or 'Contractor'."),
            A::new("preferredLanguage", T::String, "Indicates the User's preferred written or spoken language, e.g. 'en-US'."),
            A::new("locale", T::String, "Used to indicate the User's default location for purposes of localizing items such as currency and date formats, e.g. 'en-US'."),
            A::new("timezone", T::String, "The User's time zone in the 'Olson' time zone database format, e.g. 'America/Los_Angeles'."),
            A::new("active", T::Boolean, "A Boolean value indicating the User's administrative status."),
            A::new(
                "password",
                T::String,
                "The User's cleartext password. Accepted on input and never returned; Roster does not keep it.",
            )
            .mutability(M::WriteOnly)
            .returned(R::Never),
            A::new("emails", T::Complex, "Email addresses for the user.")
                .multi()
                .subs(multi_subs("Email address for the User.", T::String, &["work", "home", "other"])),
            A::new("phoneNumbers", T::Complex, "Phone numbers for the User.")
                .multi()
                .subs(multi_subs("Phone number of the User.", T::String, &["work", "home", "mobile", "fax", "pager", "other"])),
            A::new("ims", T::Complex, "Instant messaging addresses for the User.").multi().subs(multi_subs(
                "Instant messaging address for the User.",
                T::String,
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            )),
            A::new("photos", T::Complex, "URLs of photos of the User.")
                .multi()
                .subs(multi_subs("URL of a photo of the User.", T::Reference, &["photo", "thumbnail"])),
            A::new("addresses", T::Complex, "A physical mailing address for this User.").multi().subs(vec![
                A::new("formatted", T::String, "The full mailing address, formatted for display or use with a mailing label."),
                A::new("streetAddress", T::String, "The full street address component."),
                A::new("locality", T::String, "The city or locality component."),
                A::new("region", T::String, "The state or region component."),
                A::new("postalCode", T::String, "The zip code or postal code component."),
                A::new("country", T::String, "The country name component, in ISO 3166-1 alpha-2 form when known."),
                A::new("type", T::String, "A label indicating the attribute's function, e.g. 'work' or 'home'.")
                    .canonical(&["work", "home", "other"]),
                A::new("primary", T::Boolean, "A Boolean value indicating the primary address. 'true' MUST appear no more than once."),
            ]),
            A::new(
                "groups",
                T::Complex,
                "A list of groups to which the user belongs, either through direct membership or through nested \
                 groups. Derived from Group membership; read-only.",
            )
            .multi()
            .mutability(M::ReadOnly)
            .subs(vec![
                A::new("value", T::String, "The identifier of the User's group.").case_exact().mutability(M::ReadOnly),
                A::new("$ref", T::Reference, "The URI of the corresponding 'Group' resource to which the user belongs.")
                    .references(&["User", "Group"])
                    .mutability(M::ReadOnly),
                A::new("display", T::String, "A human-readable name, primarily used for display purposes.")
                    .mutability(M::ReadOnly),
                A::new("type", T::String, "A label indicating the attribute's function, e.g. 'direct' or 'indirect'.")
                    .canonical(&["direct", "indirect"])
                    .mutability(M::ReadOnly),
            ]),
            A::new("entitlements", T::Complex, "A list of entitlements for the User that represent a thing the User has.")
                .multi()
                .subs(multi_subs("The value of an entitlement.", T::String, &[])),
            A::new("roles", T::Complex, "A list of roles for the User that collectively represent who the User is, e.g. 'Student', 'Faculty'.")
                .multi()
                .subs(multi_subs("The value of a role.", T::String, &[])),
            A::new("x509Certificates", T::Complex, "A list of certificates issued to the User.")
                .multi()
                .subs(multi_subs("The value of an X.509 certificate.", T::Binary, &[])),
        ],
    }
}

pub(super) fn group_schema() -> Schema {
    Schema {
        id: GROUP.into(),
        name: "Group".into(),
        description: "Group".into(),
        attributes: vec![
            A::new(
                "displayName",
                T::String,
                "A human-readable name for the Group. REQUIRED, and unique per tenant (compared case-insensitively).",
            )
            .required()
            .uniqueness(U::Server),
            A::new("members", T::Complex, "A list of members of the Group.").multi().subs(vec![
                A::new("value", T::String, "Identifier of the member of this Group.")
                    .case_exact()
                    .mutability(M::Immutable),
                A::new(
                    "$ref",
                    T::Reference,
                    "The URI corresponding to a SCIM resource that is a member of this Group.",
                )
                .references(&["User", "Group"])
                .mutability(M::Immutable),
                A::new("type", T::String, "A label indicating the type of resource, e.g., 'User' or 'Group'.")
                    .canonical(&["User", "Group"])
                    .mutability(M::Immutable),
                A::new("display", T::String, "The member's display name, filled in by Roster.").mutability(M::ReadOnly),
            ]),
        ],
    }
}

pub(super) fn enterprise_user_schema() -> Schema {
    Schema {
        id: ENTERPRISE_USER.into(),
        name: "EnterpriseUser".into(),
        description: "Enterprise User".into(),
        attributes: vec![
            A::new("employeeNumber", T::String, "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization."),
            A::new("costCenter", T::String, "Identifies the name of a cost center."),
            A::new("organization", T::String, "Identifies the name of an organization."),
            A::new("division", T::String, "Identifies the name of a division."),
            A::new("department", T::String, "Identifies the name of a department."),
            A::new("manager", T::Complex, "The User's manager. A complex type that optionally allows service providers to represent organizational hierarchy by referencing the 'id' attribute of another User.")
                .subs(vec![
                    A::new("value", T::String, "The id of the SCIM resource representing the User's manager.").case_exact(),
                    A::new("$ref", T::Reference, "The URI of the SCIM resource representing the User's manager.")
                        .references(&["User"]),
                    A::new("displayName", T::String, "The displayName of the User's manager, filled in by Roster.")
                        .mutability(M::ReadOnly),
                ]),
        ],
    }
}

/// The attributes every resource has (RFC 7643 §3.1), plus `schemas` so filters such as
/// `schemas eq "urn:...:enterprise:2.0:User"` resolve. Not served at `/Schemas`.
pub(super) fn common_attributes() -> Schema {
    Schema {
        id: "urn:ietf:params:scim:schemas:common".into(),
        name: "Common".into(),
        description: "Attributes common to all resources (RFC 7643 section 3.1).".into(),
        attributes: vec![
            A::new("id", T::String, "A unique identifier for a SCIM resource as defined by the service provider.")
                .case_exact()
                .mutability(M::ReadOnly)
                .returned(R::Always)
                .uniqueness(U::Server),
            A::new(
                "externalId",
                T::String,
                "A String that is an identifier for the resource as defined by the provisioning client.",
            )
            .case_exact(),
            A::new("schemas", T::Reference, "The schema URNs of the resource.").multi().mutability(M::ReadOnly),
            A::new("meta", T::Complex, "A complex attribute containing resource metadata.")
                .mutability(M::ReadOnly)
                .subs(vec![
                A::new("resourceType", T::String, "The name of the resource type of the resource.")
                    .case_exact()
                    .mutability(M::ReadOnly),
                A::new("created", T::DateTime, "The DateTime that the resource was added to the service provider.")
                    .mutability(M::ReadOnly),
                A::new(
                    "lastModified",
                    T::DateTime,
                    "The most recent DateTime that the details of this resource were updated at the service provider.",
                )
                .mutability(M::ReadOnly),
                A::new("location", T::Reference, "The URI of the resource being returned.")
                    .case_exact()
                    .mutability(M::ReadOnly),
                A::new("version", T::String, "The version of the resource being returned.")
                    .case_exact()
                    .mutability(M::ReadOnly),
            ]),
        ],
    }
}

fn ro(a: A) -> A {
    a.mutability(M::ReadOnly)
}

/// The schemas that describe the discovery resources themselves (RFC 7643 §8.7.2), served
/// at `/Schemas` beside the resource schemas.
pub(super) fn meta_schemas() -> Vec<Schema> {
    let supported = |name: &str, desc: &str| {
        ro(A::new(name, T::Complex, desc)).required().subs(vec![
            ro(A::new(
                "supported",
                T::Boolean,
                "A Boolean value specifying whether or not the operation is supported.",
            ))
            .required(),
        ])
    };
    let spc = Schema {
        id: SERVICE_PROVIDER_CONFIG_SCHEMA.into(),
        name: "Service Provider Configuration".into(),
        description: "Schema for representing the service provider's configuration".into(),
        attributes: vec![
            ro(A::new(
                "documentationUri",
                T::Reference,
                "An HTTP-addressable URL pointing to the service provider's human-consumable help documentation.",
            ))
            .references(&["external"]),
            supported("patch", "A complex type that specifies PATCH configuration options."),
            ro(A::new("bulk", T::Complex, "A complex type that specifies bulk configuration options."))
                .required()
                .subs(vec![
                    ro(A::new(
                        "supported",
                        T::Boolean,
                        "A Boolean value specifying whether or not the operation is supported.",
                    ))
                    .required(),
                    ro(A::new(
                        "maxOperations",
                        T::Integer,
                        "An integer value specifying the maximum number of operations.",
                    ))
                    .required(),
                    ro(A::new(
                        "maxPayloadSize",
                        T::Integer,
                        "An integer value specifying the maximum payload size in bytes.",
                    ))
                    .required(),
                ]),
            ro(A::new("filter", T::Complex, "A complex type that specifies FILTER options.")).required().subs(vec![
                ro(A::new(
                    "supported",
                    T::Boolean,
                    "A Boolean value specifying whether or not the operation is supported.",
                ))
                .required(),
                ro(A::new(
                    "maxResults",
                    T::Integer,
                    "An integer value specifying the maximum number of resources returned in a response.",
                ))
                .required(),
            ]),
            supported(
                "changePassword",
                "A complex type that specifies configuration options related to changing a password.",
            ),
            supported("sort", "A complex type that specifies sort result options."),
            supported("etag", "A complex type that specifies ETag configuration options."),
            ro(A::new(
                "authenticationSchemes",
                T::Complex,
                "A complex type that specifies supported authentication scheme properties.",
            ))
            .multi()
            .required()
            .subs(vec![
                ro(A::new("type", T::String, "The authentication scheme.")).required().canonical(&[
                    "oauth",
                    "oauth2",
                    "oauthbearertoken",
                    "httpbasic",
                    "httpdigest",
                ]),
                ro(A::new("name", T::String, "The common authentication scheme name, e.g., HTTP Basic.")).required(),
                ro(A::new("description", T::String, "A description of the authentication scheme.")).required(),
                ro(A::new(
                    "specUri",
                    T::Reference,
                    "An HTTP-addressable URL pointing to the authentication scheme's specification.",
                ))
                .references(&["external"]),
                ro(A::new(
                    "documentationUri",
                    T::Reference,
                    "An HTTP-addressable URL pointing to the authentication scheme's usage documentation.",
                ))
                .references(&["external"]),
                ro(A::new("primary", T::Boolean, "Whether this is the preferred authentication scheme.")),
            ]),
            // RFC 9967 §4.
            ro(A::new(
                "securityEvents",
                T::Complex,
                "The capabilities related to asynchronous Security Events (RFC 8417).",
            ))
            .subs(vec![
                ro(A::new(
                    "asyncRequest",
                    T::String,
                    "Whether asynchronous SCIM requests are supported: none, long or request.",
                ))
                .canonical(&["none", "long", "request"]),
                ro(A::new(
                    "eventUris",
                    T::String,
                    "The SET event URIs the server can generate and deliver via a SET stream.",
                ))
                .multi()
                .case_exact(),
            ]),
        ],
    };
    let resource_type = Schema {
        id: RESOURCE_TYPE_SCHEMA.into(),
        name: "ResourceType".into(),
        description: "Specifies the schema that describes a SCIM resource type".into(),
        attributes: vec![
            ro(A::new("id", T::String, "The resource type's server unique id. May be the same as the 'name' attribute.")),
            ro(A::new("name", T::String, "The resource type name.")).required(),
            ro(A::new("description", T::String, "The resource type's human-readable description.")),
            ro(A::new("endpoint", T::Reference, "The resource type's HTTP-addressable endpoint relative to the Base URL, e.g., '/Users'.")).required().references(&["uri"]),
            ro(A::new("schema", T::Reference, "The resource type's primary/base schema URI.")).required().case_exact().references(&["uri"]),
            ro(A::new("schemaExtensions", T::Complex, "A list of URIs of the resource type's schema extensions.")).multi().subs(vec![
                ro(A::new("schema", T::Reference, "The URI of a schema extension.")).required().case_exact().references(&["uri"]),
                ro(A::new("required", T::Boolean, "A Boolean value that specifies whether or not the schema extension is required for the resource type.")).required(),
            ]),
        ],
    };
    let attribute_subs = |with_subs: bool| {
        let mut subs = vec![
            ro(A::new("name", T::String, "The attribute's name.")).required().case_exact(),
            ro(A::new("type", T::String, "The attribute's data type.")).required().canonical(&[
                "string",
                "complex",
                "boolean",
                "decimal",
                "integer",
                "dateTime",
                "reference",
                "binary",
            ]),
            ro(A::new("multiValued", T::Boolean, "A Boolean value indicating an attribute's plurality.")).required(),
            ro(A::new("description", T::String, "A human-readable description of the attribute.")),
            ro(A::new("required", T::Boolean, "A boolean value indicating whether or not the attribute is required.")),
            ro(A::new("canonicalValues", T::String, "A collection of canonical values.")).multi().case_exact(),
            ro(A::new(
                "caseExact",
                T::Boolean,
                "A Boolean value indicating whether or not a string attribute is case sensitive.",
            )),
            ro(A::new("mutability", T::String, "Indicates whether or not an attribute is modifiable."))
                .case_exact()
                .canonical(&["readOnly", "readWrite", "immutable", "writeOnly"]),
            ro(A::new("returned", T::String, "Indicates when an attribute is returned in a response."))
                .case_exact()
                .canonical(&["always", "never", "default", "request"]),
            ro(A::new("uniqueness", T::String, "Indicates how unique a value must be."))
                .case_exact()
                .canonical(&["none", "server", "global"]),
            ro(A::new("referenceTypes", T::String, "Used only with an attribute of type 'reference'."))
                .multi()
                .case_exact(),
        ];
        if with_subs {
            subs.push(
                ro(A::new("subAttributes", T::Complex, "Used to define the sub-attributes of a complex attribute."))
                    .multi(),
            );
        }
        subs
    };
    let mut attributes =
        ro(A::new("attributes", T::Complex, "A complex attribute that includes the attributes of a schema."))
            .multi()
            .required();
    attributes.sub_attributes = attribute_subs(true);
    if let Some(sub) = attributes.sub_attributes.last_mut() {
        sub.sub_attributes = attribute_subs(false);
    }
    let schema = Schema {
        id: SCHEMA_SCHEMA.into(),
        name: "Schema".into(),
        description: "Specifies the schema attribute".into(),
        attributes: vec![
            ro(A::new("id", T::String, "The unique URI of the schema.")).required().case_exact(),
            ro(A::new("name", T::String, "The schema's human-readable name.")),
            ro(A::new("description", T::String, "The schema's human-readable description.")),
            attributes,
        ],
    };
    vec![spc, resource_type, schema]
}
