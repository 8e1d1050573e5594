using MoeRuntime.Grains;

namespace MoeRuntime.Client;

/// <summary>
/// How <see cref="MoeGenerationClient.StreamWithResumeAsync"/> notices that the rank serving a stream is gone and how
/// often it resumes the stream elsewhere. The defaults notice a rank whose gateway connection closed (killed, crashed,
/// stopped) within about two seconds, and one that went silent without that within five.
/// </summary>
public sealed record ResumeOptions
{
    public static ResumeOptions Default { get; } = new();

    /// <summary>
    /// How many resumes in a row may deliver no new token before the failure reaches the caller (a resume that delivers
    /// tokens starts the count afresh). A stopping rank keeps its gateway until its drain ends, so a resume may land on it
    /// again and be refused for a few seconds; eight resumes with the default back-off span about 13 s.
    /// </summary>
    public int MaxResumes { get; init; } = 8;

    /// <summary>
    /// How often the router sends a heartbeat while no token is ready (<see cref="GenerateRequest.HeartbeatInterval"/>).
    /// </summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// With neither a token nor a heartbeat for this long, the rank is taken for lost and the stream resumed elsewhere.
    /// A few heartbeat intervals: long enough for a loaded rank's scheduling hiccups, short enough to notice a dead one fast.
    /// </summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// After one of the client's gateway connections closed (<see cref="GatewayLossMonitor"/>), a stream that has had
    /// neither a token nor a heartbeat since is taken for lost once this much time has passed since the loss. Null (the
    /// default): two heartbeat intervals, so a stream still served on another gateway always hears from its rank first.
    /// Must exceed <see cref="HeartbeatInterval"/> and not exceed <see cref="StallTimeout"/>.
    /// </summary>
    public TimeSpan? LostGatewayGrace { get; init; }

    /// <summary>The grace in effect: <see cref="LostGatewayGrace"/>, or two heartbeat intervals (at most the stall timeout).</summary>
    public TimeSpan EffectiveLostGatewayGrace =>
        LostGatewayGrace ?? TimeSpan.FromTicks(Math.Min(2 * HeartbeatInterval.Ticks, StallTimeout.Ticks));

    /// <summary>
    /// Where to hear of lost gateway connections. Null: the <see cref="GatewayLossMonitor"/> registered with the
    /// <see cref="IClusterClient"/> the stream is opened on, if any; without one only the stall timeout applies.
    /// </summary>
    public GatewayLossMonitor? GatewayLosses { get; init; }

    /// <summary>The wait before the first resume (the Orleans client meanwhile drops the lost gateway); doubled each time.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest wait between two resumes.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Told of every resume before it is sent (for logs and load-test counts); must not throw.</summary>
    public Action<StreamResume>? OnResume { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming every invalid value.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (MaxResumes < 0) problems.Add($"MaxResumes must be >= 0 (is {MaxResumes})");
        if (HeartbeatInterval < GenerateRequest.MinHeartbeatInterval || HeartbeatInterval > GenerateRequest.MaxHeartbeatInterval)
            problems.Add($"HeartbeatInterval must lie between {GenerateRequest.MinHeartbeatInterval} and {GenerateRequest.MaxHeartbeatInterval} (is {HeartbeatInterval})");
        if (StallTimeout <= HeartbeatInterval) problems.Add($"StallTimeout must exceed HeartbeatInterval {HeartbeatInterval} (is {StallTimeout})");
        if (LostGatewayGrace is { } grace && (grace <= HeartbeatInterval || grace > StallTimeout))
            problems.Add($"LostGatewayGrace must exceed HeartbeatInterval {HeartbeatInterval} and not exceed StallTimeout {StallTimeout} (is {grace})");
        if (InitialBackoff < TimeSpan.Zero) problems.Add($"InitialBackoff must be >= 0 (is {InitialBackoff})");
        if (MaxBackoff < InitialBackoff) problems.Add($"MaxBackoff must be >= InitialBackoff {InitialBackoff} (is {MaxBackoff})");
        if (problems.Count > 0) throw new ArgumentException("invalid resume options: " + string.Join("; ", problems));
    }
}

/// <summary>One resume of a stream: which request, after how many delivered tokens, why, and what went wrong.</summary>
public sealed record StreamResume(string RequestId, int DeliveredTokens, int Attempt, string Reason, Exception? Cause);
