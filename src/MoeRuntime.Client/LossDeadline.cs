namespace MoeRuntime.Client;

/// <summary>
/// When a silent stream is taken for lost. Without a lost gateway connection since its last chunk (token or heartbeat),
/// after <see cref="ResumeOptions.StallTimeout"/> of silence; with one, after <see cref="ResumeOptions.LostGatewayGrace"/>
/// of silence counted from the loss, or the stall timeout if that comes first. A chunk after the loss shows the stream's
/// own gateway is alive, and the count starts afresh.
/// </summary>
public static class LossDeadline
{
    /// <summary>How much longer to wait, and whether the lost gateway (rather than the stall timeout) sets the wait.</summary>
    public readonly record struct Wait(TimeSpan Remaining, bool ForLostGateway)
    {
        /// <summary>The stream is taken for lost now.</summary>
        public bool Expired => Remaining <= TimeSpan.Zero;
    }

    /// <summary>
    /// The wait left for a stream silent for <paramref name="silence"/>, given the time since a gateway connection was
    /// lost after its last chunk (<paramref name="sinceLoss"/>, null when none was).
    /// </summary>
    public static Wait Of(TimeSpan silence, TimeSpan? sinceLoss, TimeSpan stallTimeout, TimeSpan lostGatewayGrace)
    {
        if (silence < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(silence), silence, "silence must be >= 0");
        if (sinceLoss is { } s && (s < TimeSpan.Zero || s > silence))
            throw new ArgumentOutOfRangeException(nameof(sinceLoss), s, "the loss must lie between the last chunk and now");
        TimeSpan stall = Positive(stallTimeout - silence);
        if (sinceLoss is not { } since) return new Wait(stall, false);
        TimeSpan grace = Positive(lostGatewayGrace - since);
        return grace < stall ? new Wait(grace, true) : new Wait(stall, false);
    }

    static TimeSpan Positive(TimeSpan value) => value < TimeSpan.Zero ? TimeSpan.Zero : value;
}
