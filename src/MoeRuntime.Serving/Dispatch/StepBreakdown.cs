namespace MoeRuntime.Serving.Dispatch;

/// <summary>The parts one layer of one distributed step is split into, in the order they happen.</summary>
public enum StepPhase
{
    /// <summary>Norms, attention with the KV cache, and the MoE input norm, on the router's rank.</summary>
    Attention,
    /// <summary>The gate's top-k and any shared expert, on the router's rank.</summary>
    Gate,
    /// <summary>Gathering each routed expert's rows and copying them into wire payloads, on the router's rank.</summary>
    Serialise,
    /// <summary>The slowest expert call from its start until its expert began: Orleans serialisation, the wire, and the wait in the expert's queue.</summary>
    Send,
    /// <summary>The slowest call's payload turned into a tensor on the expert's rank.</summary>
    RemoteDecode,
    /// <summary>The slowest call's FFN on the expert's rank: making the weights hot, the matmuls, the finite check, any routing re-check.</summary>
    RemoteCompute,
    /// <summary>The slowest call's output copied into its answer on the expert's rank.</summary>
    RemoteEncode,
    /// <summary>The slowest call from its expert's answer until the router had it: serialisation back and the wire.</summary>
    Return,
    /// <summary>From the slowest call's answer until the router resumed after every call of the layer (continuations, scheduling).</summary>
    Join,
    /// <summary>The answers turned back into tensors and added with their gate weights, on the router's rank.</summary>
    Combine,
}

/// <summary>
/// One layer's expert dispatch timed from <see cref="System.Diagnostics.Stopwatch"/> timestamps: when it started, when its
/// payloads were ready (calls sent), when its slowest call started and answered, when the expert of that call started
/// (the expert's own clock: comparable only when the ranks share a host), how long that expert decoded, computed and
/// encoded, when every call had settled, and when the answers were combined.
/// </summary>
public readonly record struct DispatchTimestamps(long Started, long Sent, long SlowestAnswered, long RemoteStarted,
    long RemoteDecodeTicks, long RemoteComputeTicks, long RemoteEncodeTicks, long Settled, long Combined)
{
    /// <summary>
    /// Splits the layer's dispatch into <see cref="StepPhase.Serialise"/> … <see cref="StepPhase.Combine"/> (Stopwatch ticks,
    /// written at those indices of <paramref name="phases"/>); the parts add up to <c>Combined - Started</c>. The slowest
    /// call's time outside its expert is split into send and return at the expert's start when that start lies within
    /// the call (ranks on one host share the clock); otherwise all of it counts as send.
    /// </summary>
    public void Split(Span<long> phases)
    {
        if (phases.Length < StepBreakdown.PhaseCount)
            throw new ArgumentException($"needs room for {StepBreakdown.PhaseCount} phases, got {phases.Length}", nameof(phases));
        long sent = Math.Max(Sent, Started), settled = Math.Max(Settled, sent), combined = Math.Max(Combined, settled);
        long answered = Math.Clamp(SlowestAnswered, sent, settled);
        long call = answered - sent;
        long remote = Math.Min(call, Math.Max(0, RemoteDecodeTicks) + Math.Max(0, RemoteComputeTicks) + Math.Max(0, RemoteEncodeTicks));
        // The remote parts are scaled down together when (clock skew, rounding) they exceed the call that carried them.
        double scale = remote == 0 ? 0 : (double)remote / (Math.Max(0, RemoteDecodeTicks) + Math.Max(0, RemoteComputeTicks) + Math.Max(0, RemoteEncodeTicks));
        long decode = (long)(Math.Max(0, RemoteDecodeTicks) * scale), encode = (long)(Math.Max(0, RemoteEncodeTicks) * scale);
        long compute = remote - decode - encode;
        long outside = call - remote;
        long send = RemoteStarted >= sent && RemoteStarted - sent <= outside ? RemoteStarted - sent : outside;
        phases[(int)StepPhase.Attention] = 0;
        phases[(int)StepPhase.Gate] = 0;
        phases[(int)StepPhase.Serialise] = sent - Started;
        phases[(int)StepPhase.Send] = send;
        phases[(int)StepPhase.RemoteDecode] = decode;
        phases[(int)StepPhase.RemoteCompute] = compute;
        phases[(int)StepPhase.RemoteEncode] = encode;
        phases[(int)StepPhase.Return] = outside - send;
        phases[(int)StepPhase.Join] = settled - answered;
        phases[(int)StepPhase.Combine] = combined - settled;
    }
}

/// <summary>
/// A rank's running totals of where its steps' time went, per layer and <see cref="StepPhase"/>, in Stopwatch ticks:
/// one Interlocked add per phase, nothing allocated. Safe from any thread.
/// </summary>
public sealed class StepBreakdown
{
    /// <summary>How many phases there are.</summary>
    public static readonly int PhaseCount = Enum.GetValues<StepPhase>().Length;

    /// <summary>The label value of each phase, by <see cref="StepPhase"/> order.</summary>
    public static IReadOnlyList<string> PhaseNames { get; } =
        ["attention", "gate", "serialise", "send", "remote_decode", "remote_compute", "remote_encode", "return", "join", "combine"];

    readonly long[] _ticks;
    readonly long[] _dispatches;

    public StepBreakdown(int layers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(layers, 0);
        Layers = layers;
        _ticks = new long[layers * PhaseCount];
        _dispatches = new long[layers];
    }

    public int Layers { get; }

    /// <summary>Adds <paramref name="ticks"/> to one phase of <paramref name="layer"/>.</summary>
    public void Add(int layer, StepPhase phase, long ticks)
    {
        CheckLayer(layer);
        if (ticks > 0) Interlocked.Add(ref _ticks[layer * PhaseCount + (int)phase], ticks);
    }

    /// <summary>Adds one layer's dispatch, split by <see cref="DispatchTimestamps.Split"/>, and counts it.</summary>
    public void AddDispatch(int layer, ReadOnlySpan<long> phases)
    {
        CheckLayer(layer);
        for (int p = (int)StepPhase.Serialise; p < PhaseCount; p++)
            if (phases[p] > 0) Interlocked.Add(ref _ticks[layer * PhaseCount + p], phases[p]);
        Interlocked.Increment(ref _dispatches[layer]);
    }

    /// <summary>The total time of one phase of one layer so far.</summary>
    public TimeSpan Total(int layer, StepPhase phase)
    {
        CheckLayer(layer);
        return TimeSpan.FromTicks((long)(Interlocked.Read(ref _ticks[layer * PhaseCount + (int)phase]) * TicksPerStopwatchTick));
    }

    /// <summary>The dispatches of one layer counted so far.</summary>
    public long Dispatches(int layer)
    {
        CheckLayer(layer);
        return Interlocked.Read(ref _dispatches[layer]);
    }

    static readonly double TicksPerStopwatchTick = (double)TimeSpan.TicksPerSecond / System.Diagnostics.Stopwatch.Frequency;

    void CheckLayer(int layer)
    {
        if ((uint)layer >= (uint)Layers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"the model has {Layers} layers");
    }
}
