namespace MoeRuntime.FrontDoor;

/// <summary>Why a backend refused or failed a request; the front door maps each to its HTTP status.</summary>
public enum BackendErrorKind
{
    /// <summary>400.</summary>
    InvalidRequest,
    /// <summary>404.</summary>
    UnknownModel,
    /// <summary>413.</summary>
    PromptTooLong,
    /// <summary>429 with Retry-After.</summary>
    Overloaded,
    /// <summary>503 (shutting down, not ready).</summary>
    Unavailable,
    /// <summary>504.</summary>
    Timeout,
    /// <summary>500.</summary>
    Failed,
}

/// <summary>A failure the client can act on, with the HTTP status it maps to.</summary>
public sealed class BackendException(BackendErrorKind kind, string message, TimeSpan? retryAfter = null, Exception? inner = null)
    : Exception(message, inner)
{
    public BackendErrorKind Kind { get; } = kind;
    /// <summary>For <see cref="BackendErrorKind.Overloaded"/>: when to try again.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
