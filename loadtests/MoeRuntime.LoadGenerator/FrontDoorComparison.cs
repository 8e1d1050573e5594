using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using MoeRuntime.LoadTests;

namespace MoeRuntime.LoadGenerator;

/// <summary>
/// One concurrency level measured through the front door and through the Orleans client, <c>--repeat</c> times each,
/// alternating which goes first so that neither always gets the warmer cluster.
/// </summary>
sealed record FrontDoorComparison(int Concurrency, IReadOnlyList<ServedLevel> FrontDoor, IReadOnlyList<ServedLevel> Orleans)
{
    /// <summary>Front door over Orleans tokens/s, one per repeat (paired in run order).</summary>
    public double[] Ratios => FrontDoor.Zip(Orleans, (f, o) => f.TokensPerSecond / o.TokensPerSecond).ToArray();
    /// <summary>Front door minus Orleans TTFT p50 in ms, one per repeat.</summary>
    public double[] TimeToFirstTokenDeltas => FrontDoor.Zip(Orleans, (f, o) => f.TimeToFirstTokenMs.P50 - o.TimeToFirstTokenMs.P50).ToArray();
    public int Errors => FrontDoor.Concat(Orleans).Sum(l => l.Errors.Values.Sum());

    public static async Task<IReadOnlyList<FrontDoorComparison>> RunAsync(ServedLoad frontDoor, ServedLoad orleans, LoadOptions options,
        CancellationToken cancellationToken)
    {
        await frontDoor.WarmUpAsync(cancellationToken);
        await orleans.WarmUpAsync(cancellationToken);
        var results = new List<FrontDoorComparison>();
        foreach (int concurrency in options.Concurrency)
        {
            var viaFrontDoor = new List<ServedLevel>();
            var viaOrleans = new List<ServedLevel>();
            for (int r = 0; r < options.Repeat && !cancellationToken.IsCancellationRequested; r++)
            {
                bool frontDoorFirst = r % 2 == 0;
                ServedLevel first = await (frontDoorFirst ? frontDoor : orleans).RunAsync(concurrency, cancellationToken);
                ServedLevel second = await (frontDoorFirst ? orleans : frontDoor).RunAsync(concurrency, cancellationToken);
                viaFrontDoor.Add(frontDoorFirst ? first : second);
                viaOrleans.Add(frontDoorFirst ? second : first);
                Console.Error.WriteLine($"concurrency {concurrency} run {r + 1}: front door {viaFrontDoor[^1].TokensPerSecond:F1} tok/s, " +
                    $"Orleans {viaOrleans[^1].TokensPerSecond:F1} tok/s, TTFT p50 {viaFrontDoor[^1].TimeToFirstTokenMs.P50:F1} / {viaOrleans[^1].TimeToFirstTokenMs.P50:F1} ms");
            }
            results.Add(new FrontDoorComparison(concurrency, viaFrontDoor, viaOrleans));
        }
        return results;
    }

    public static string Table(IEnumerable<FrontDoorComparison> comparisons)
    {
        var table = new MarkdownTable("concurrency", "runs", "front door tok/s (median)", "Orleans tok/s (median)", "ratio median (min–max)",
            "TTFT p50 front door / Orleans ms (median)", "TTFT p50 delta ms median (min–max)", "ITL p50 front door / Orleans ms (median)", "errors");
        foreach (FrontDoorComparison c in comparisons)
        {
            table.Add(
                N(c.Concurrency, "F0"),
                N(c.FrontDoor.Count, "F0"),
                N(Median(c.FrontDoor.Select(l => l.TokensPerSecond)), "F1"),
                N(Median(c.Orleans.Select(l => l.TokensPerSecond)), "F1"),
                $"{N(Median(c.Ratios), "F3")} ({N(c.Ratios.Min(), "F3")}–{N(c.Ratios.Max(), "F3")})",
                $"{N(Median(c.FrontDoor.Select(l => l.TimeToFirstTokenMs.P50)), "F1")} / {N(Median(c.Orleans.Select(l => l.TimeToFirstTokenMs.P50)), "F1")}",
                $"{N(Median(c.TimeToFirstTokenDeltas), "+0.0;-0.0")} ({N(c.TimeToFirstTokenDeltas.Min(), "+0.0;-0.0")}–{N(c.TimeToFirstTokenDeltas.Max(), "+0.0;-0.0")})",
                $"{N(Median(c.FrontDoor.Select(l => l.InterTokenMs.P50)), "F1")} / {N(Median(c.Orleans.Select(l => l.InterTokenMs.P50)), "F1")}",
                c.Errors == 0 ? "0" : string.Join(", ", c.FrontDoor.Concat(c.Orleans).SelectMany(l => l.Errors).GroupBy(e => e.Key).Select(g => $"{g.Key} {g.Sum(e => e.Value)}")));
        }
        return table.Render();
    }

    public static void WriteJson(string path, LoadOptions options, IReadOnlyList<FrontDoorComparison> comparisons)
    {
        var document = new
        {
            options.MaxTokens,
            options.Temperature,
            options.RequestsPerClient,
            options.Repeat,
            LogicalCores = Environment.ProcessorCount,
            Levels = comparisons.Select(c => new { c.Concurrency, c.Ratios, c.TimeToFirstTokenDeltas, c.FrontDoor, c.Orleans }),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(document, new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        }));
    }

    static double Median(IEnumerable<double> values)
    {
        double[] sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    static string N(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
