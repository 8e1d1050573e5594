namespace MoeRuntime.Telemetry.Drift;

/// <summary>
/// The windows routing drift compares. Time is cut into slots of <see cref="Slot"/>; the recent window is the newest
/// <see cref="RecentSlots"/> slots (the one still filling included), the baseline the <see cref="BaselineSlots"/>
/// slots just before it. The baseline slides: a shift that lasts longer than both windows becomes the new baseline
/// and PSI falls back, so the gauges say "routing is moving now", not "routing differs from last week".
/// </summary>
public sealed record RoutingDriftSettings
{
    public TimeSpan Slot { get; init; } = TimeSpan.FromSeconds(10);
    public int RecentSlots { get; init; } = 3;
    public int BaselineSlots { get; init; } = 12;
    /// <summary>Expert choices each window needs, per layer, before PSI is computed: fewer makes PSI mostly sampling noise.</summary>
    public long MinChoices { get; init; } = 500;
    /// <summary>The floor of a bin's share in PSI (<see cref="RoutingDrift.DefaultEpsilon"/>).</summary>
    public double Epsilon { get; init; } = RoutingDrift.DefaultEpsilon;
    /// <summary>PSI over which a layer counts as drifting (the alert's threshold too): 0.25, the conventional "significant shift".</summary>
    public double PsiThreshold { get; init; } = 0.25;

    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public void Validate()
    {
        if (Slot < TimeSpan.FromSeconds(1)) throw new ArgumentException($"Slot must be at least 1 s, was {Slot}");
        if (RecentSlots < 1 || RecentSlots > 360) throw new ArgumentException($"RecentSlots must be 1-360, was {RecentSlots}");
        if (BaselineSlots < 1 || BaselineSlots > 1440) throw new ArgumentException($"BaselineSlots must be 1-1440, was {BaselineSlots}");
        if (MinChoices < 1) throw new ArgumentException($"MinChoices must be at least 1, was {MinChoices}");
        if (!(Epsilon > 0 && Epsilon < 0.01)) throw new ArgumentException($"Epsilon must be in (0, 0.01), was {Epsilon}");
        if (!(PsiThreshold > 0) || double.IsInfinity(PsiThreshold)) throw new ArgumentException($"PsiThreshold must be a positive number, was {PsiThreshold}");
    }
}

/// <summary>
/// Keeps layer × expert choice counts in time slots and compares the recent window with the baseline before it.
/// Memory is fixed: (recent + baseline) slots of layers × experts counts. Not thread-safe (one grain owns it).
/// </summary>
public sealed class RoutingDriftTracker
{
    readonly RoutingDriftSettings _settings;
    readonly int _layers, _experts, _count;
    readonly long[][] _slots;
    readonly long[] _epochs;

    public RoutingDriftTracker(int layers, int experts, RoutingDriftSettings settings)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(experts, 1);
        settings.Validate();
        (_layers, _experts, _settings) = (layers, experts, settings);
        _count = settings.RecentSlots + settings.BaselineSlots;
        _slots = new long[_count][];
        _epochs = new long[_count];
        for (int i = 0; i < _count; i++)
        {
            _slots[i] = new long[layers * experts];
            _epochs[i] = long.MinValue;
        }
    }

    public RoutingDriftSettings Settings => _settings;

    /// <summary>Adds the choices (layer × expert, row-major) counted in an interval that ended at <paramref name="at"/>.</summary>
    /// <remarks>Counts older than the baseline's oldest slot are dropped; a slot is reused only for a newer time.</remarks>
    /// <exception cref="ArgumentException">The counts do not fit the model's layers × experts.</exception>
    public void Add(ReadOnlySpan<long> hits, DateTimeOffset at)
    {
        if (hits.Length != _layers * _experts)
            throw new ArgumentException($"{hits.Length} expert counts do not fit {_layers} layers x {_experts} experts");
        long epoch = Epoch(at);
        int index = (int)(((epoch % _count) + _count) % _count);
        if (_epochs[index] > epoch) return;
        if (_epochs[index] != epoch)
        {
            Array.Clear(_slots[index]);
            _epochs[index] = epoch;
        }
        long[] slot = _slots[index];
        for (int i = 0; i < slot.Length; i++) slot[i] += hits[i];
    }

    /// <summary>Every layer's drift at <paramref name="now"/>.</summary>
    public RoutingDriftStatus Compute(DateTimeOffset now)
    {
        long newest = Epoch(now);
        long recentFrom = newest - _settings.RecentSlots + 1, baselineFrom = recentFrom - _settings.BaselineSlots;
        var recent = new long[_layers * _experts];
        var baseline = new long[_layers * _experts];
        for (int i = 0; i < _count; i++)
        {
            long e = _epochs[i];
            if (e > newest || e < baselineFrom) continue;
            long[] into = e >= recentFrom ? recent : baseline;
            for (int c = 0; c < into.Length; c++) into[c] += _slots[i][c];
        }
        var layers = new LayerDrift[_layers];
        double max = 0;
        for (int l = 0; l < _layers; l++)
        {
            ReadOnlySpan<long> r = recent.AsSpan(l * _experts, _experts), b = baseline.AsSpan(l * _experts, _experts);
            long rTotal = Sum(r), bTotal = Sum(b);
            bool enough = rTotal >= _settings.MinChoices && bTotal >= _settings.MinChoices;
            double psi = enough ? RoutingDrift.Psi(r, b, _settings.Epsilon) : 0;
            layers[l] = new LayerDrift(l, psi, enough ? RoutingDrift.ChoiceShift(r, b) : 0, rTotal, bTotal, enough);
            max = Math.Max(max, psi);
        }
        double slot = _settings.Slot.TotalSeconds;
        double partial = (now.UtcTicks % _settings.Slot.Ticks) / (double)TimeSpan.TicksPerSecond;
        return new RoutingDriftStatus(slot * (_settings.RecentSlots - 1) + partial, slot * _settings.BaselineSlots, _settings.PsiThreshold, max, layers);
    }

    long Epoch(DateTimeOffset at) => at.UtcTicks / _settings.Slot.Ticks;

    static long Sum(ReadOnlySpan<long> counts)
    {
        long total = 0;
        foreach (long c in counts) total += c;
        return total;
    }
}
