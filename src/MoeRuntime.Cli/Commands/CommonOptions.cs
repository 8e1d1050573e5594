using System.CommandLine;
using Microsoft.Extensions.Logging;
using MoeRuntime.Model.DefaultModel;

namespace MoeRuntime.Cli.Commands;

/// <summary>Options several commands share, with one meaning everywhere.</summary>
static class CommonOptions
{
    public static Option<string> Model() => new("--model")
    {
        Description = $"Checkpoint directory (Hugging Face layout). Default: ${DefaultModelLocation.EnvironmentVariable} or the built-in model's directory, created on first use",
        DefaultValueFactory = _ => DefaultModelLocation.Directory,
    };

    public static Option<string> Device() => new("--device")
    {
        Description = "Compute device: cpu, cuda or cuda:N (falls back to cpu with a warning)",
        DefaultValueFactory = _ => "cpu",
    };

    public static ILoggerFactory Logging() =>
        LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
}
