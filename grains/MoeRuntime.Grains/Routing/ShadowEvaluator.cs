using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Model;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Tokenization;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Routing;

/// <summary>
/// The rank's shadow evaluation of a candidate checkpoint (<c>Moe:Shadow</c>, docs/drift.md): when a candidate is set, the
/// primary and the candidate are loaded whole beside the router (experts local, CPU), a share of finished requests (chosen by
/// request id) is handed to one background worker that scores both teacher-forced, and the agreement goes into the rank's
/// <c>moe_shadow_*</c> series. Nothing of it reaches a client, and a request never waits for it: a full backlog drops.
/// </summary>
public sealed partial class ShadowEvaluator : IShadowRecorder, IAsyncDisposable
{
    readonly ILogger<ShadowEvaluator> _logger;
    readonly double _share;
    readonly ShadowScorer? _scorer;
    readonly ShadowWorker? _worker;
    readonly bool _record;
    readonly CounterHandle _scored, _dropped, _failed, _tokens, _greedy, _divergence, _positions;
    readonly CounterHandle[] _routing = [];
    readonly SketchHandle _primarySeconds, _candidateSeconds;
    readonly GaugeHandle _greedyRatio, _meanDivergence;
    readonly GaugeHandle[] _routingRatio = [];
    // The rank's sums since it started, for its gauges; only the worker's thread adds to them.
    ShadowAgreement? _total;
    int _disposed;

    /// <exception cref="InvalidOperationException">The candidate cannot be compared with the primary; the message names each difference.</exception>
    public ShadowEvaluator(ModelHost host, IOptions<MoeSiloOptions> options, RankTelemetry telemetry, ILogger<ShadowEvaluator> logger)
    {
        _logger = logger;
        ShadowOptions o = options.Value.Shadow;
        _share = o.Share;
        if (string.IsNullOrWhiteSpace(o.CandidatePath)) return;
        string candidateDirectory = Path.GetFullPath(o.CandidatePath);
        ModelConfig candidateConfig = ModelConfigJson.Load(candidateDirectory);
        ITextTokenizer candidateTokenizer = TokenizerLoader.Load(candidateDirectory, candidateConfig, options.Value.Limits.TokenizerRegexTimeout);
        IReadOnlyList<string> problems = ShadowScorer.Incompatibilities(host.Config, host.Tokenizer, candidateConfig, candidateTokenizer);
        if (problems.Count > 0)
            throw new InvalidOperationException(
                $"Moe:Shadow:CandidatePath '{candidateDirectory}' cannot be compared with the primary {host.Directory}: {string.Join("; ", problems)}");
        MoeModel primary = ModelLoader.Load(host.Directory, CPU);
        MoeModel candidate;
        try
        {
            candidate = ModelLoader.Load(candidateDirectory, CPU);
        }
        catch
        {
            primary.Dispose();
            throw;
        }
        _scorer = new ShadowScorer(primary, candidate);
        _record = telemetry.Enabled;
        RankCollector c = telemetry.Collector;
        _scored = c.Counter(MoeMetrics.ShadowRequestsTotal, "scored");
        _dropped = c.Counter(MoeMetrics.ShadowRequestsTotal, "dropped");
        _failed = c.Counter(MoeMetrics.ShadowRequestsTotal, "failed");
        _tokens = c.Counter(MoeMetrics.ShadowTokensTotal);
        _greedy = c.Counter(MoeMetrics.ShadowGreedyAgreementsTotal);
        _divergence = c.Counter(MoeMetrics.ShadowLogprobDivergenceMicronatsTotal);
        _positions = c.Counter(MoeMetrics.ShadowRoutingPositionsTotal);
        int layers = host.Config.LayerCount;
        _routing = [.. Enumerable.Range(0, layers).Select(l => c.Counter(MoeMetrics.ShadowRoutingAgreementsTotal, l.ToString(CultureInfo.InvariantCulture)))];
        _routingRatio = [.. Enumerable.Range(0, layers).Select(l => c.Gauge(MoeMetrics.ShadowRoutingAgreementRatio, l.ToString(CultureInfo.InvariantCulture)))];
        _primarySeconds = c.Histogram(MoeMetrics.ShadowLatencySeconds, "primary");
        _candidateSeconds = c.Histogram(MoeMetrics.ShadowLatencySeconds, "candidate");
        _greedyRatio = c.Gauge(MoeMetrics.ShadowGreedyAgreementRatio);
        _meanDivergence = c.Gauge(MoeMetrics.ShadowLogprobDivergence);
        _worker = new ShadowWorker(_scorer.Score, o.MaxQueue, this);
        Log.Started(_logger, host.Rank, candidateDirectory, _share, o.MaxQueue);
    }

    /// <summary>Whether a candidate is loaded.</summary>
    public bool Enabled => _worker is not null;
    /// <summary>Samples scored, dropped and failed on this rank since it started (0 without a candidate).</summary>
    public long Scored => _worker?.ScoredCount ?? 0;
    public long Dropped => _worker?.DroppedCount ?? 0;
    public long Failed => _worker?.FailedCount ?? 0;

    /// <summary>
    /// A request finished on this rank with <paramref name="completion"/> after <paramref name="prompt"/> (as fed, resumed tokens
    /// included): queued for the candidate when shadowing is on and the request id is in the share. Never blocks.
    /// </summary>
    public void Finished(string requestId, IReadOnlyList<int> prompt, IReadOnlyList<int> completion)
    {
        if (_worker is null || completion.Count == 0 || prompt.Count == 0 || !ShadowSampling.Sampled(requestId, _share)) return;
        _worker.Offer(new ShadowSample([.. prompt], [.. completion]));
    }

    void IShadowRecorder.Scored(ShadowAgreement a)
    {
        _total = _total is null ? a : _total.Merge(a);
        if (!_record) return;
        _scored.Increment();
        _tokens.Add(a.Tokens);
        _greedy.Add(a.GreedyAgreements);
        _divergence.Add((long)Math.Round(a.LogProbDivergenceSum * 1e6));
        _positions.Add(a.RoutingPositions);
        for (int l = 0; l < _routing.Length && l < a.RoutingAgreements.Length; l++) _routing[l].Add(a.RoutingAgreements[l]);
        _primarySeconds.Record(a.PrimarySeconds);
        _candidateSeconds.Record(a.CandidateSeconds);
        _greedyRatio.Set(_total.GreedyAgreement);
        _meanDivergence.Set(_total.MeanLogProbDivergence);
        double[] perLayer = _total.RoutingAgreementPerLayer;
        for (int l = 0; l < _routingRatio.Length && l < perLayer.Length; l++) _routingRatio[l].Set(perLayer[l]);
    }

    void IShadowRecorder.Dropped()
    {
        if (_record) _dropped.Increment();
    }

    void IShadowRecorder.Failed(Exception error)
    {
        if (_record) _failed.Increment();
        Log.ScoringFailed(_logger, error.GetType().Name, error.Message);
    }

    /// <summary>Stops the worker (the sample being scored finishes, the backlog is abandoned) and frees both models.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (_worker is not null) await _worker.DisposeAsync();
        _scorer?.Dispose();
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Rank {Rank} shadow-evaluates candidate {Candidate} on {Share:P1} of finished requests (backlog {MaxQueue}); the primary and the candidate are loaded whole in this process")]
        public static partial void Started(ILogger logger, int rank, string candidate, double share, int maxQueue);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Shadow scoring of a request failed: {Error}: {Reason}")]
        public static partial void ScoringFailed(ILogger logger, string error, string reason);
    }
}
