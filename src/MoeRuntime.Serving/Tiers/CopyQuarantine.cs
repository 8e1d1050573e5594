namespace MoeRuntime.Serving.Tiers;

/// <summary>Why an expert copy is out of service.</summary>
public enum QuarantineReason
{
    /// <summary>Its output had NaN or infinity.</summary>
    Nan,
    /// <summary>Its bytes differ from the SHA-256 in the checkpoint's manifest.</summary>
    Digest,
    /// <summary>Its bytes changed since they were hashed at registration (a checkpoint without a manifest).</summary>
    Integrity,
}

/// <summary>
/// The quarantine of one expert copy: once a try fails, calls are refused at once until a back-off has passed; then one
/// call tries the copy again (a fresh read from disk); a failed try doubles the back-off up to <see cref="LastRetry"/>,
/// a passing one ends the quarantine. Not thread-safe: its grain's turns serialise it.
/// </summary>
public sealed class CopyQuarantine(TimeSpan firstRetry, TimeSpan lastRetry)
{
    TimeSpan _retryAfter;

    public TimeSpan FirstRetry { get; } = firstRetry > TimeSpan.Zero ? firstRetry : throw new ArgumentOutOfRangeException(nameof(firstRetry), "must be positive");
    public TimeSpan LastRetry { get; } = lastRetry >= firstRetry ? lastRetry : throw new ArgumentOutOfRangeException(nameof(lastRetry), "must not be shorter than the first retry");

    /// <summary>Why the copy is quarantined; null while it is in service.</summary>
    public QuarantineReason? Reason { get; private set; }

    /// <summary>What refused calls are told.</summary>
    public string? Message { get; private set; }

    /// <summary>When the next try may run.</summary>
    public DateTimeOffset RetryAt { get; private set; }

    /// <summary>The wait before the next try.</summary>
    public TimeSpan RetryAfter => _retryAfter;

    /// <summary>True while a call must be refused without trying the copy.</summary>
    public bool Refuses(DateTimeOffset now) => Reason is not null && now < RetryAt;

    /// <summary>
    /// Records a failed try. Returns true when this starts a quarantine (or changes its reason): the caller counts
    /// and logs it once; a failed retry for the same reason only lengthens the back-off.
    /// </summary>
    public bool Fail(QuarantineReason reason, string message, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrEmpty(message);
        bool started = Reason != reason;
        _retryAfter = started ? FirstRetry : TimeSpan.FromTicks(Math.Min(_retryAfter.Ticks * 2, LastRetry.Ticks));
        Reason = reason;
        Message = message;
        RetryAt = now + _retryAfter;
        return started;
    }

    /// <summary>Records a passing try. Returns true when it ends a quarantine: the caller logs the recovery.</summary>
    public bool Pass()
    {
        if (Reason is null) return false;
        Reason = null;
        Message = null;
        _retryAfter = TimeSpan.Zero;
        return true;
    }
}
