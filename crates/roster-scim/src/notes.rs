//! Notes: which compatibility rule (Part F of the requirements catalog) or tenant policy
//! shaped how a request was read. They end up in the provisioning log so an administrator
//! can see why Roster interpreted a request the way it did.

use std::fmt;

/// A compatibility rule or policy that applied to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// F-2: `"True"`/`"false"` read as booleans.
    StringBoolean,
    /// F-4: `remove` of a multi-valued attribute with a value list removed only those values.
    ValueListRemoval,
    /// F-6: a value-path `add`/`replace` matched nothing and created the element.
    ValuePathUpsert,
    /// F-7: a path-less value used dotted or URN-qualified keys.
    PathlessQualifiedKey,
    /// F-8: `manager` given as a string or an array.
    ManagerShape,
    /// F-9: a read-only attribute in the input was ignored.
    ReadOnlyIgnored,
    /// F-10: an unknown schema URN was ignored.
    UnknownSchemaIgnored,
    /// F-10: an unknown attribute was ignored (lenient tenants).
    UnknownAttributeIgnored,
    /// F-30: a password was accepted and dropped (Roster never stores passwords).
    PasswordDropped,
    /// A number or boolean given for a string attribute was kept as its text.
    ScalarAsString,
    /// A numeric string given for a number attribute was read as the number.
    NumericString,
    /// A single value given for a multi-valued attribute was read as a one-element list.
    SingleValueWrapped,
    /// More than one `primary: true`; the first was kept.
    PrimaryDeduplicated,
    /// A userName equal to the stored one but for case was kept as stored.
    UserNameCaseKept,
}

impl Rule {
    /// The short label shown to administrators.
    pub fn label(self) -> &'static str {
        match self {
            Rule::StringBoolean => "string boolean coerced (F-2)",
            Rule::ValueListRemoval => "remove with value list: only listed values removed (F-4)",
            Rule::ValuePathUpsert => "value path matched nothing: element created (F-6)",
            Rule::PathlessQualifiedKey => "path-less value with dotted/URN keys (F-7)",
            Rule::ManagerShape => "manager given as string or array (F-8)",
            Rule::ReadOnlyIgnored => "read-only attribute ignored (F-9)",
            Rule::UnknownSchemaIgnored => "unknown schema URN ignored (F-10)",
            Rule::UnknownAttributeIgnored => "unknown attribute ignored (F-10)",
            Rule::PasswordDropped => "password accepted and not stored (F-30)",
            Rule::ScalarAsString => "number/boolean kept as string",
            Rule::NumericString => "numeric string read as number",
            Rule::SingleValueWrapped => "single value read as a list",
            Rule::PrimaryDeduplicated => "more than one primary: first kept",
            Rule::UserNameCaseKept => "userName differs only in case: stored value kept",
        }
    }
}

/// One application of a [`Rule`], with the attribute or value it applied to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Note {
    pub rule: Rule,
    pub subject: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.subject.is_empty() {
            f.write_str(self.rule.label())
        } else {
            write!(f, "{}: {}", self.rule.label(), self.subject)
        }
    }
}

/// Collects notes without duplicates, in first-seen order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes(Vec<Note>);

impl Notes {
    pub fn add(&mut self, rule: Rule, subject: impl Into<String>) {
        let note = Note { rule, subject: subject.into() };
        if !self.0.contains(&note) {
            self.0.push(note);
        }
    }

    pub fn extend(&mut self, other: Notes) {
        for note in other.0 {
            if !self.0.contains(&note) {
                self.0.push(note);
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Note> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether a rule applied.
    pub fn has(&self, rule: Rule) -> bool {
        self.0.iter().any(|n| n.rule == rule)
    }

    pub fn into_vec(self) -> Vec<Note> {
        self.0
    }
}

/// What to do with attributes and schemas Roster does not know (F-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownAttributes {
    /// Ignore them and note it (the default: one unmapped IdP attribute must not block a user).
    #[default]
    Ignore,
    /// Reject the request: 400 `invalidSyntax` in bodies, `invalidPath` in PATCH paths.
    Reject,
}

/// Whether a provisioned user's `userName` may change (the product rule, F-22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserNameChanges {
    /// 400 `mutability` (the default: userName is the unique key).
    #[default]
    Reject,
    /// Apply the change like any other attribute.
    Allow,
}

/// The per-tenant policies the protocol core applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    pub unknown_attributes: UnknownAttributes,
    pub username_changes: UserNameChanges,
}
