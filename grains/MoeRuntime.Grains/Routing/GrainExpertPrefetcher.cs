using MoeRuntime.Control.Prefetch;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Grains.Prefetch;
using MoeRuntime.Model.Layers;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Routing;

/// <summary>
/// Pre-gating's grain side: the model hands it the experts the next layers' gates pick from the current MoE input, and it
/// hints each of them (every replica of a replicated one) to fetch ahead with a one-way call. How far ahead and how sure the
/// gate must be come from the controller's settings (<see cref="PrefetchSettingsCache"/>), read once per layer and step.
/// An expert this rank computes in-process (<paramref name="computesHere"/>, the dispatcher's rule) is hinted to the rank's
/// executor directly, which starts the same fetch its grain's hint would: no message, no grain turn, no key formatted.
/// It also scores every prediction against what the predicted layer's gate then chose (<see cref="PregatingTally"/>, into the
/// rank's <c>moe_pregating_*</c> counters when <paramref name="accuracy"/> is given). The model calls it from its one forward
/// loop at a time.
/// </summary>
internal sealed class GrainExpertPrefetcher(IGrainFactory grains, string model, PlacementMapCache placement, PrefetchSettingsCache prefetch,
    PregatingTally? accuracy = null, ExpertExecutor? executor = null, Func<int, int, bool>? computesHere = null)
    : IExpertLookahead
{
    // Default grain keys per (layer, expert), formatted once on first use: the per-layer path formats no strings.
    readonly System.Collections.Concurrent.ConcurrentDictionary<(int Layer, int Expert), string> _keys = new();
    int[] _chosen = [];
    int _from = -1;
    long _hints;
    RouterPrefetchSettings? _settings;
    ReplicaRoutes? _routes;

    public long Hints => Interlocked.Read(ref _hints);

    public int LayersAhead(int layer)
    {
        _from = layer;
        placement.RefreshIfDue();
        _routes = placement.Current;
        prefetch.RefreshIfDue();
        _settings = prefetch.Current;
        return _settings.Lookahead;
    }

    public float Threshold(int layer) => Settings.Thresholds[layer];

    public void Predicted(int layer, ReadOnlySpan<long> experts)
    {
        ReplicaRoutes routes = _routes ?? throw new InvalidOperationException($"{nameof(Predicted)} before {nameof(LayersAhead)}");
        accuracy?.Predicted(_from, layer, experts);
        foreach (long expert in experts)
        {
            if (routes.For(layer, (int)expert) is { } replicas)
                foreach (string replica in replicas)
                    Hint(replica);
            else if (executor is not null && computesHere is not null && computesHere(layer, (int)expert))
            {
                Interlocked.Increment(ref _hints);
                executor.Prefetch(new ExpertKey(model, layer, (int)expert));
            }
            else
                Hint(_keys.GetOrAdd((layer, (int)expert), static (k, m) => GrainKeys.Expert(m, k.Layer, k.Expert), model));
        }
    }

    public void Chosen(int layer, RoutingPlan plan)
    {
        if (accuracy is null) return;
        if (_chosen.Length < plan.ExpertCount) _chosen = new int[plan.ExpertCount];
        int n = 0;
        for (int e = 0; e < plan.ExpertCount; e++)
            if (plan.TokenCountFor(e) > 0) _chosen[n++] = e;
        accuracy.Chosen(layer, _chosen.AsSpan(0, n));
    }

    RouterPrefetchSettings Settings => _settings ?? throw new InvalidOperationException($"{nameof(Threshold)} before {nameof(LayersAhead)}");

    void Hint(string key)
    {
        Interlocked.Increment(ref _hints);
        grains.GetGrain<IExpertGrain>(key).PrefetchAsync().Ignore();
    }
}
