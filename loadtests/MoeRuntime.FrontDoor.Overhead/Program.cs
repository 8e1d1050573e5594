using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MoeRuntime.FrontDoor;

// moe-frontdoor-overhead [--streams N ...] [--tokens T] [--requests R]
// The front door over a backend that has every token ready at once, on Kestrel at 127.0.0.1, driven by streamed
// /v1/completions from this process: what remains is the cost of HTTP, JSON, SSE and flushing per token.
int[] streams = [1, 8, 32];
int tokens = 256, requests = 4;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--streams":
            var values = new List<int>();
            while (i + 1 < args.Length && int.TryParse(args[i + 1], out int n)) { values.Add(n); i++; }
            streams = [.. values];
            break;
        case "--tokens": tokens = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--requests": requests = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        default: Console.Error.WriteLine($"unknown option '{args[i]}'"); return 2;
    }
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.Services.AddSingleton<IInferenceBackend, InstantBackend>();
builder.Services.AddFrontDoor(builder.Configuration.GetSection(FrontDoorOptions.Section));
builder.Services.Configure<FrontDoorOptions>(o => o.ApiKey = "sk-overhead");
await using WebApplication app = builder.Build();
app.MapOpenAiEndpoints();
await app.StartAsync();
string url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

using var http = new HttpClient { BaseAddress = new Uri(url) };
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "sk-overhead");
string body = $$"""{"model":"instant","prompt":"x","max_tokens":{{tokens}},"stream":true}""";

async Task<int> StreamAsync()
{
    using var content = new StringContent(body, Encoding.UTF8, "application/json");
    using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = content };
    using HttpResponseMessage response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    response.EnsureSuccessStatusCode();
    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
    int events = 0;
    while (await reader.ReadLineAsync() is { } line)
        if (line.Contains("\"finish_reason\":null", StringComparison.Ordinal)) events++;
    return events;
}

await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => StreamAsync()));   // warm-up: JIT, connections
Console.WriteLine("| streams | tokens | wall s | tokens/s | CPU µs / token (server + client) |");
Console.WriteLine("| ------- | ------ | ------ | -------- | -------------------------------- |");
foreach (int s in streams)
{
    var process = Process.GetCurrentProcess();
    TimeSpan cpu = process.TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    int[] counts = await Task.WhenAll(Enumerable.Range(0, s).Select(async _ =>
    {
        int total = 0;
        for (int r = 0; r < requests; r++) total += await StreamAsync();
        return total;
    }));
    double wall = clock.Elapsed.TotalSeconds;
    process.Refresh();
    double cpuMicros = (process.TotalProcessorTime - cpu).TotalMicroseconds;
    long total = counts.Sum();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {s} | {total} | {wall:F2} | {total / wall:F0} | {cpuMicros / total:F1} |"));
}
await app.StopAsync();
return 0;

/// <summary>A model that has its answer ready at once: one single-letter token after another.</summary>
sealed class InstantBackend : IInferenceBackend
{
    public bool SupportsLogprobs => false;

    public bool MatchesStopStrings => false;

    public ValueTask<IReadOnlyList<ServedModel>> ListModelsAsync(CancellationToken cancellationToken) => new([new ServedModel("instant", 1 << 20)]);

    public ValueTask<int[]> EncodePromptAsync(string model, string prompt, bool chat, CancellationToken cancellationToken) => new(new int[prompt.Length]);

    public ValueTask<string> RenderChatAsync(string model, IReadOnlyList<ChatTurn> messages, CancellationToken cancellationToken) =>
        new(string.Concat(messages.Select(m => m.Content)));

    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(GenerationCall call, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (int i = 0; i < call.MaxTokens; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new GeneratedToken { TokenId = i, Text = ((char)('a' + i % 26)).ToString() };
        }
        await Task.CompletedTask;
    }
}
