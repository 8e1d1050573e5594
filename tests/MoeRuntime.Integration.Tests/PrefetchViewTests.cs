using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MoeRuntime.Integration.Tests;

/// <summary>
/// <c>moe prefetch</c> against a running silo: after one request the pre-gating accuracy it shows (and writes with
/// <c>--write-accuracy</c>, for <c>moe replay --prefetch-accuracy-file</c>) counts predicted, chosen and hit experts for
/// every layer a router pre-gates (1..3 of the built-in model's 4, one layer ahead).
/// </summary>
public sealed partial class PrefetchViewTests
{
    const int Layers = 4;
    static readonly TimeSpan CommandLimit = TimeSpan.FromSeconds(60);
    /// <summary>The aggregator reads the ranks' counters every few seconds; bounded, a missing layer fails the test.</summary>
    static readonly TimeSpan ViewLimit = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task AfterARequestTheLiveViewCountsPredictedAndChosenExpertsForEveryPregatedLayer()
    {
        await using LocalSilo silo = await LocalSilo.StartAsync("prefetch-view", []);
        string gateway = silo.Silo.GatewayPort.ToString(CultureInfo.InvariantCulture);
        MoeCli.Outcome generated = await MoeCli.RunAsync(silo.LogDirectory, CommandLimit,
            "generate", "--gateway", gateway, "--prompt", "The experts of the first layer", "--temperature", "0", "--max-tokens", "32");
        Assert.True(generated.ExitCode == 0, $"generate exited with {generated.ExitCode}\n{generated.StderrTail}\n{silo.Diagnostics()}");

        string file = Path.Combine(silo.Scratch("prefetch"), "accuracy.json");
        MoeCli.Outcome? view = null;
        await Eventually.UntilAsync("moe prefetch shows lookahead-1 accuracy for layers 1-3", ViewLimit, async () =>
        {
            view = await MoeCli.RunAsync(silo.LogDirectory, CommandLimit, "prefetch", "--gateway", gateway, "--write-accuracy", file);
            return view.ExitCode == 0 && Enumerable.Range(1, Layers - 1).All(l => Row(view.Stdout, l) is not null);
        }, () => $"{view?.Stdout}\n{view?.StderrTail}\n{silo.Diagnostics()}");

        for (int layer = 1; layer < Layers; layer++)
        {
            (long hits, long predicted, long chosen) = Row(view!.Stdout, layer)!.Value;
            // A 32-token answer chooses 2 experts per layer per token (and more for the prompt's prefill).
            Assert.True(chosen >= 2 * 32, $"layer {layer}: {chosen} chosen expert slots after a 32-token request\n{view.Stdout}");
            Assert.True(predicted > 0, $"layer {layer}: nothing predicted\n{view.Stdout}");
            Assert.InRange(hits, 1, Math.Min(predicted, chosen));
        }
        Assert.DoesNotMatch(@"layer 0 lookahead", view!.Stdout);

        using JsonDocument written = JsonDocument.Parse(await File.ReadAllTextAsync(file));
        var entries = written.RootElement.GetProperty("entries").EnumerateArray()
            .Where(e => e.GetProperty("lookahead").GetInt32() == 1)
            .ToDictionary(e => e.GetProperty("layer").GetInt32(), e => (Actual: e.GetProperty("actual").GetInt64(), Predicted: e.GetProperty("predicted").GetInt64()));
        Assert.Equal([1, 2, 3], entries.Keys.Order());
        Assert.All(entries.Values, e => Assert.True(e.Actual > 0 && e.Predicted > 0, $"an entry of {file} counts nothing: {e}"));
    }

    /// <summary>The view's lookahead-1 line for <paramref name="layer"/>: hits, predicted and chosen expert slots.</summary>
    static (long Hits, long Predicted, long Chosen)? Row(string stdout, int layer)
    {
        Match m = RowPattern().Match(stdout);
        for (; m.Success; m = m.NextMatch())
            if (int.Parse(m.Groups["layer"].Value, CultureInfo.InvariantCulture) == layer)
                return (long.Parse(m.Groups["hits"].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups["predicted"].Value, CultureInfo.InvariantCulture),
                    long.Parse(m.Groups["chosen"].Value, CultureInfo.InvariantCulture));
        return null;
    }

    [GeneratedRegex(@"layer (?<layer>\d+) lookahead 1: precision [^(]*\((?<hits>\d+) hits, (?<predicted>\d+) predicted, (?<chosen>\d+) chosen\)")]
    private static partial Regex RowPattern();
}
