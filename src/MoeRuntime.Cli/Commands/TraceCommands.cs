using System.CommandLine;
using MoeRuntime.Traces;

namespace MoeRuntime.Cli.Commands;

/// <summary><c>moe trace convert</c>: external routing traces to the runtime's routing-trace format.</summary>
static class TraceCommands
{
    public static Command Create() => new("trace", "Routing traces: convert external traces (see docs/routing-traces.md)") { Convert() };

    static Command Convert()
    {
        var from = new Option<string>("--from") { Description = "External trace: JSON lines or one JSON array of per-token, per-layer records", Required = true };
        var to = new Option<string>("--to") { Description = "Routing trace to write", Required = true };
        var format = new Option<ExternalTraceFormat>("--format") { Description = "Layout of --from", DefaultValueFactory = _ => ExternalTraceFormat.Auto };
        var modelName = new Option<string>("--model-name") { Description = "Model name for the header", DefaultValueFactory = _ => "" };
        var layers = new Option<int?>("--layers") { Description = "Layers (default: largest layer seen + 1)" };
        var experts = new Option<int?>("--experts") { Description = "Experts per layer (default: largest expert seen + 1)" };
        var topK = new Option<int?>("--top-k") { Description = "Experts per token (default: the most seen; required for probability-only records)" };
        var expertBytes = new Option<long?>("--expert-bytes") { Description = "Hot bytes of one expert, for the header" };
        var command = new Command("convert", "Convert an external routing trace (layer, token position, experts, gating probabilities)")
        {
            from, to, format, modelName, layers, experts, topK, expertBytes,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var options = new TraceConversionOptions
            {
                Format = result.GetValue(format),
                Model = result.GetValue(modelName)!,
                Layers = result.GetValue(layers),
                Experts = result.GetValue(experts),
                TopK = result.GetValue(topK),
                ExpertBytes = result.GetValue(expertBytes),
            };
            string input = result.GetValue(from)!, output = result.GetValue(to)!;
            TraceConversionResult converted;
            try
            {
                converted = await ExternalTraceConverter.ConvertAsync(input, output, options, cancellationToken);
            }
            catch (Exception e) when (e is RoutingTraceFormatException or IOException or System.Text.Json.JsonException)
            {
                throw new ArgumentException($"{input}: {e.Message}", e);
            }
            RoutingTraceHeader h = converted.Header;
            Console.Error.WriteLine($"{converted.InputRecords} input records, {converted.TokenLayers} token-layers in {converted.Steps} steps " +
                $"-> {converted.OutputRecords} records in {output} ({h.Layers} layers x {h.Experts} experts, top-{h.TopK})");
            return 0;
        });
        return command;
    }
}
