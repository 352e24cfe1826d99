//! The UCWA enumerations callq checks names against.
//!
//! `ErrorCode` and `ErrorSubcode` type the two properties of
//! reportMediaDiagnostics; the same names also fill the `code`/`subcode` of
//! UCWA error bodies. `SessionState` types the `state` of the
//! audioVideoSession resource. Members are listed in the order the
//! reportMediaDiagnostics page lists them, and names are matched exactly
//! (case-sensitive), as the wire spells them.

/// Declares a closed enum whose members are wire names.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $ty { $($variant),+ }
        crate::model::text_enum!($ty { $($variant => $text),+ });
    };
}

wire_enum!(
    /// The 20 UCWA error codes (the `errorCode` of reportMediaDiagnostics,
    /// and the `code` of an error body).
    ErrorCode {
        BadRequest => "BadRequest",
        Forbidden => "Forbidden",
        NotFound => "NotFound",
        MethodNotAllowed => "MethodNotAllowed",
        NotAcceptable => "NotAcceptable",
        Conflict => "Conflict",
        Gone => "Gone",
        PreconditionFailed => "PreconditionFailed",
        EntityTooLarge => "EntityTooLarge",
        UnsupportedMediaType => "UnsupportedMediaType",
        PreconditionRequired => "PreconditionRequired",
        TooManyRequests => "TooManyRequests",
        ServiceFailure => "ServiceFailure",
        ServiceUnavailable => "ServiceUnavailable",
        GatewayTimeout => "GatewayTimeout",
        ExchangeServiceFailure => "ExchangeServiceFailure",
        Timeout => "Timeout",
        LocalFailure => "LocalFailure",
        RemoteFailure => "RemoteFailure",
        Informational => "Informational",
    }
);

wire_enum!(
    /// The 87 UCWA error subcodes reportMediaDiagnostics accepts: the 81 of
    /// the ErrorSubcode reference page plus the six only the
    /// reportMediaDiagnostics page lists (`None`, `MaxEventCountReached`,
    /// `CallbackChannelError`, `InvalidExchangeServerVersion`,
    /// `UnprocessableEntity`, `CannotRedirect`). The wire name `None` is the
    /// variant `Unspecified`, so that it cannot be mistaken for `Option::None`.
    ErrorSubcode {
        Unspecified => "None",
        Timeout => "Timeout",
        UnsupportedMediaType => "UnsupportedMediaType",
        DeserializationFailure => "DeserializationFailure",
        AnonymousNotAllowed => "AnonymousNotAllowed",
        InviteesOnly => "InviteesOnly",
        AlreadyExists => "AlreadyExists",
        AnotherOperationPending => "AnotherOperationPending",
        APIVersionNotSupported => "APIVersionNotSupported",
        NormalizationFailed => "NormalizationFailed",
        ProvisioningDataUnavailable => "ProvisioningDataUnavailable",
        ApplicationNotFound => "ApplicationNotFound",
        TooManyApplications => "TooManyApplications",
        InactiveApplicationExpired => "InactiveApplicationExpired",
        UserAgentNotAllowed => "UserAgentNotAllowed",
        LimitExceeded => "LimitExceeded",
        OperationNotSupported => "OperationNotSupported",
        NoDelegatesConfigured => "NoDelegatesConfigured",
        NoTeamMembersConfigured => "NoTeamMembersConfigured",
        MakeMeAvailableRequired => "MakeMeAvailableRequired",
        LisServiceUnavailable => "LisServiceUnavailable",
        NoLocationFound => "NoLocationFound",
        TooManyContacts => "TooManyContacts",
        MigrationInProgress => "MigrationInProgress",
        TooManyGroups => "TooManyGroups",
        TooManyOnlineMeetings => "TooManyOnlineMeetings",
        ThreadIdAlreadyExists => "ThreadIdAlreadyExists",
        DoNotDisturb => "DoNotDisturb",
        ConnectedElsewhere => "ConnectedElsewhere",
        Missed => "Missed",
        MediaFallback => "MediaFallback",
        FederationRequired => "FederationRequired",
        Canceled => "Canceled",
        Declined => "Declined",
        Forwarded => "Forwarded",
        Transferred => "Transferred",
        Replaced => "Replaced",
        EscalationFailed => "EscalationFailed",
        InsufficientBandwidth => "InsufficientBandwidth",
        RepliedWithOtherModality => "RepliedWithOtherModality",
        DestinationNotFound => "DestinationNotFound",
        DialoutNotAllowed => "DialoutNotAllowed",
        Unreachable => "Unreachable",
        MediaEncryptionNotSupported => "MediaEncryptionNotSupported",
        MediaEncryptionRequired => "MediaEncryptionRequired",
        MediaEncryptionMismatch => "MediaEncryptionMismatch",
        Unavailable => "Unavailable",
        TooManyParticipants => "TooManyParticipants",
        TooManyLobbyParticipants => "TooManyLobbyParticipants",
        Busy => "Busy",
        AttendeeNotAllowed => "AttendeeNotAllowed",
        Demoted => "Demoted",
        MediaFailure => "MediaFailure",
        InvalidMediaDescription => "InvalidMediaDescription",
        Removed => "Removed",
        TemporarilyUnavailable => "TemporarilyUnavailable",
        ModalityNotSupported => "ModalityNotSupported",
        NotAllowed => "NotAllowed",
        Ejected => "Ejected",
        Denied => "Denied",
        Ended => "Ended",
        ParameterValidationFailure => "ParameterValidationFailure",
        SessionSwitched => "SessionSwitched",
        DerivedConversation => "DerivedConversation",
        Redirected => "Redirected",
        Expired => "Expired",
        NotAcceptable => "NotAcceptable",
        NewContentSharer => "NewContentSharer",
        PhoneNumberConflict => "PhoneNumberConflict",
        IPv6NotSupported => "IPv6NotSupported",
        PGetReplaced => "PGetReplaced",
        PstnCallFailed => "PstnCallFailed",
        TransferDeclined => "TransferDeclined",
        TransferTargetDeclined => "TransferTargetDeclined",
        CallbackUriUnreachable => "CallbackUriUnreachable",
        ConversationNotFound => "ConversationNotFound",
        AutoAccepted => "AutoAccepted",
        TooManyConversations => "TooManyConversations",
        MediaNegotiationFailure => "MediaNegotiationFailure",
        MediaNegotiationTimeOut => "MediaNegotiationTimeOut",
        CallTerminated => "CallTerminated",
        MaxEventCountReached => "MaxEventCountReached",
        CallbackChannelError => "CallbackChannelError",
        InvalidExchangeServerVersion => "InvalidExchangeServerVersion",
        UnprocessableEntity => "UnprocessableEntity",
        ExchangeTimeout => "ExchangeTimeout",
        CannotRedirect => "CannotRedirect",
    }
);

wire_enum!(
    /// The states of an audio/video session. There is no "disconnected"
    /// member: a session that ended no longer exists.
    SessionState {
        Established => "Established",
        Establishing => "Establishing",
        Suspended => "Suspended",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_have_the_documented_sizes_and_round_trip() {
        assert_eq!(ErrorCode::ALL.len(), 20);
        assert_eq!(ErrorSubcode::ALL.len(), 87);
        for c in ErrorCode::ALL {
            assert_eq!(c.as_str().parse::<ErrorCode>(), Ok(*c));
        }
        for s in ErrorSubcode::ALL {
            assert_eq!(s.as_str().parse::<ErrorSubcode>(), Ok(*s));
        }
        let distinct: std::collections::HashSet<_> =
            ErrorSubcode::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(distinct.len(), 87);
    }

    #[test]
    fn names_are_matched_exactly() {
        assert_eq!(
            "None".parse::<ErrorSubcode>(),
            Ok(ErrorSubcode::Unspecified)
        );
        assert_eq!(
            "MediaNegotiationTimeOut".parse::<ErrorSubcode>(),
            Ok(ErrorSubcode::MediaNegotiationTimeOut)
        );
        assert!("MediaNegotiationTimeout".parse::<ErrorSubcode>().is_err());
        assert!("badrequest".parse::<ErrorCode>().is_err());
        assert!("Unspecified".parse::<ErrorSubcode>().is_err());
        assert!("ClientTimeout".parse::<ErrorCode>().is_err());
        assert!("Disconnected".parse::<SessionState>().is_err());
    }
}
