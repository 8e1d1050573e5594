using System.Globalization;
using System.Net.Http.Headers;

namespace MoeRuntime.LoadGenerator;

/// <summary>
/// The serving rank's own clock for a level (<c>--metrics URL</c>): sums and counts of its request histograms from its
/// Prometheus page, read before and after the level, so the clients' timeline can be set beside what the rank measured.
/// </summary>
sealed class RankMetrics(string url, string? viewToken) : IDisposable
{
    /// <summary>The histograms read, each as <c>_sum</c> and <c>_count</c> added over their label sets.</summary>
    static readonly string[] Histograms =
    [
        "moe_queue_wait_seconds", "moe_time_to_first_token_seconds", "moe_request_duration_seconds", "moe_prefill_duration_seconds",
        "moe_decode_step_duration_seconds", "moe_batch_size",
    ];

    /// <summary>Counters read as they are (added over label sets).</summary>
    static readonly string[] Counters =
    [
        "moe_tier_misses_total", "moe_tier_fetch_time_seconds_total",
        // The .NET runtime's own: milliseconds the rank's threads stood paused for collections, and collections of any generation.
        "system_runtime_total_pause_time_by_gc_total", "system_runtime_dotnet_gc_collections",
    ];

    readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public async Task<IReadOnlyDictionary<string, double>> ReadAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (!string.IsNullOrEmpty(viewToken)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", viewToken);
        using HttpResponseMessage response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new HttpLoadException($"GET {url} answered HTTP {(int)response.StatusCode}{(response.StatusCode == System.Net.HttpStatusCode.Unauthorized ? " (give a viewer token: --view-token)" : "")}");
        return Parse(await response.Content.ReadAsStringAsync(cancellationToken));
    }

    /// <summary>
    /// A read once the rank's page has caught up: the page takes each telemetry interval's measurements when the interval
    /// ends (one second by default), so a read right after a level misses its last steps (a one-stream level of a second
    /// showed 155 of its 256). Reads a second apart until the steps counted stop changing, at most five times.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, double>> ReadSettledAsync(CancellationToken cancellationToken)
    {
        IReadOnlyDictionary<string, double> read = await ReadAsync(cancellationToken);
        for (int i = 0; i < 4; i++)
        {
            await Task.Delay(SettleDelay, cancellationToken);
            IReadOnlyDictionary<string, double> next = await ReadAsync(cancellationToken);
            bool settled = Steps(next) == Steps(read);
            read = next;
            if (settled) break;
        }
        return read;
    }

    static readonly TimeSpan SettleDelay = TimeSpan.FromSeconds(1.1);

    static double Steps(IReadOnlyDictionary<string, double> read) =>
        read.GetValueOrDefault("moe_decode_step_duration_seconds_count") + read.GetValueOrDefault("moe_prefill_duration_seconds_count");

    /// <summary>Each wanted histogram's <c>_sum</c> and <c>_count</c>, added over label sets.</summary>
    internal static Dictionary<string, double> Parse(string page)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string line in page.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            int nameEnd = line.IndexOfAny([' ', '{']);
            int valueStart = line.LastIndexOf(' ');
            if (nameEnd <= 0 || valueStart <= 0) continue;
            string name = line[..nameEnd];
            bool histogram = (name.EndsWith("_sum", StringComparison.Ordinal) || name.EndsWith("_count", StringComparison.Ordinal))
                && Histograms.Contains(name[..name.LastIndexOf('_')]);
            if (!histogram && !Counters.Contains(name)) continue;
            if (!double.TryParse(line.AsSpan(valueStart + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double value)) continue;
            values[name] = values.GetValueOrDefault(name) + value;
        }
        return values;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>
/// The rank's means over one level (milliseconds): queue wait before admission, receipt to first token, receipt to last
/// token, one prefill step, one decode step, the decode steps' mean batch size and count, and the hot-tier misses with
/// their fetch seconds (a miss fetches on the request path), the garbage collector's pauses (ms) and collections, and the
/// seconds the rank spent in forward passes (every prefill and decode step: the sum of both histograms, within their
/// sketches' relative accuracy) over how many steps.
/// </summary>
sealed record RankLevel(double QueueWaitMs, double FirstTokenMs, double RequestMs, double PrefillStepMs, double DecodeStepMs, double MeanBatch, long DecodeSteps, long Requests,
    long TierMisses, double TierFetchSeconds, double GcPauseMs, long GcCollections, double ForwardSeconds = double.NaN, long Steps = 0)
{
    public static RankLevel Between(IReadOnlyDictionary<string, double> before, IReadOnlyDictionary<string, double> after)
    {
        double Delta(string name) => after.GetValueOrDefault(name) - before.GetValueOrDefault(name);
        double MeanMs(string histogram) => Delta(histogram + "_count") is var n && n > 0 ? Delta(histogram + "_sum") / n * 1000 : double.NaN;
        double batches = Delta("moe_batch_size_count");
        return new RankLevel(MeanMs("moe_queue_wait_seconds"), MeanMs("moe_time_to_first_token_seconds"), MeanMs("moe_request_duration_seconds"),
            MeanMs("moe_prefill_duration_seconds"), MeanMs("moe_decode_step_duration_seconds"),
            batches > 0 ? Delta("moe_batch_size_sum") / batches : double.NaN, (long)Delta("moe_decode_step_duration_seconds_count"),
            (long)Delta("moe_request_duration_seconds_count"), (long)Delta("moe_tier_misses_total"), Delta("moe_tier_fetch_time_seconds_total"),
            Delta("system_runtime_total_pause_time_by_gc_total"), (long)Delta("system_runtime_dotnet_gc_collections"),
            Delta("moe_prefill_duration_seconds_sum") + Delta("moe_decode_step_duration_seconds_sum"),
            (long)(Delta("moe_prefill_duration_seconds_count") + Delta("moe_decode_step_duration_seconds_count")));
    }
}
