using MoeRuntime.Client;
using MoeRuntime.LoadGenerator;

LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
IReadOnlyList<string> prompts = PromptSet.Load(options.PromptsPath);

bool viaHttp = options.HttpUrl is not null;
await using MoeClusterConnection? connection = (options.Served && !viaHttp) || options.CompareOrleans || options.Phases.Count > 0
    ? await MoeClusterConnection.ConnectAsync(options.RouterPerGateway ? options.Cluster with { GatewayPorts = [options.Cluster.GatewayPorts[0]] } : options.Cluster, TimeSpan.FromSeconds(30), stop.Token)
    : null;
using HttpTarget? http = viaHttp ? new HttpTarget(options.HttpUrl!, options.ApiKey, options.ViewToken, options.ModelName) : null;
RouterTarget? orleans = connection is null ? null : new RouterTarget(connection.Client, options.ModelName);
// With --router-per-gateway the first connection is the first gateway's; one more per further gateway.
var spreadConnections = new List<MoeClusterConnection>();
await using var closeSpread = new AsyncDisposables(spreadConnections);
IServedTarget? spread = null;
if (options.RouterPerGateway && connection is not null)
{
    spreadConnections.AddRange(await Task.WhenAll(options.Cluster.GatewayPorts.Skip(1).Select(port =>
        MoeClusterConnection.ConnectAsync(options.Cluster with { GatewayPorts = [port] }, TimeSpan.FromSeconds(30), stop.Token))));
    spread = new SpreadTarget([orleans!, .. spreadConnections.Select(c => new RouterTarget(c.Client, options.ModelName))]);
}

if (options.CompareOrleans)
{
    IReadOnlyList<FrontDoorComparison> comparisons = await FrontDoorComparison.RunAsync(
        new ServedLoad(http!, prompts, options), new ServedLoad(orleans!, prompts, options), options, stop.Token);
    Console.WriteLine(FrontDoorComparison.Table(comparisons));
    if (options.JsonPath is { } comparisonPath) FrontDoorComparison.WriteJson(comparisonPath, options, comparisons);
    return comparisons.Any(c => c.Errors > 0) ? 1 : 0;
}

using ReferenceLoad? reference = options.Reference ? new ReferenceLoad(options.ModelDirectory, prompts, options) : null;
IServedTarget? target = viaHttp ? http : spread ?? orleans;
using RankMetrics? rankMetrics = options.MetricsUrl is { } metricsUrl ? new RankMetrics(metricsUrl, options.ViewToken) : null;
ServedLoad? served = options.Served && target is not null ? new ServedLoad(target, prompts, options, rankMetrics) : null;

if (options.Phases.Count > 0)
{
    if (connection is null) { Console.Error.WriteLine("--phase needs the served side"); return 2; }
    IReadOnlyList<TimelineSample> samples = await new TimelineRun(connection.Client, options).RunAsync(stop.Token);
    Console.WriteLine(TimelineReport.Table(samples));
    if (options.JsonPath is { } timelinePath) TimelineReport.WriteJson(timelinePath, options, samples);
    return samples.Any(s => s.Errors.Count > 0 || s.OverBudget) ? 1 : 0;
}

if (served is not null) await served.WarmUpAsync(stop.Token);
reference?.WarmUp();

var levels = new List<LevelComparison>();
foreach (int concurrency in options.Concurrency)
{
    ServedLevel? servedLevel = served is null ? null : await served.RunAsync(concurrency, stop.Token);
    // The reference runs as many requests as the cluster completed (or would have, without a cluster), batched alike.
    int requests = (int)Math.Max(servedLevel?.Requests ?? concurrency * options.RequestsPerClient, concurrency);
    ReferenceLevel? referenceLevel = reference?.Run(concurrency, requests);
    if (reference is not null && options.ReferencePhases) Console.Error.WriteLine(reference.RunPhases(concurrency, requests).Describe(concurrency));
    var level = new LevelComparison(concurrency, servedLevel, referenceLevel);
    levels.Add(level);
    Console.Error.WriteLine($"concurrency {concurrency}: served {servedLevel?.TokensPerSecond:F1} tok/s, reference {referenceLevel?.TokensPerSecond:F1} tok/s, ratio {level.Ratio:F2}"
        + (level.ForwardRatio is { } forward && level.BusyRatio is { } busy ? $" = forward per token {forward:F2} x busy share {busy:F2}" : ""));
    if (stop.IsCancellationRequested) break;
}

Console.WriteLine(LoadReport.Table(levels));
Console.WriteLine();
Console.WriteLine(LoadReport.TimelineTable(levels));
if (options.JsonPath is { } path) LoadReport.WriteJson(path, options, levels);
return 0;

/// <summary>Disposes the connections it is given, for <c>await using</c> over a list filled later.</summary>
sealed class AsyncDisposables(List<MoeClusterConnection> connections) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        foreach (MoeClusterConnection c in connections) await c.DisposeAsync();
    }
}
