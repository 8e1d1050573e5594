using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

namespace MoeRuntime.Deploy.Tests;

/// <summary>Runs a command from the repository root, bounded in time, and returns its exit code, stdout and stderr.</summary>
static class Tool
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr, string CommandLine)
    {
        public string Describe() => $"$ {CommandLine}\n(exit {ExitCode})\n{Stderr}";
    }

    /// <summary>The executable on PATH; fails the test (never skips it) with how to install it when it is missing.</summary>
    public static string Find(string name, string install)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        foreach (string dir in new[] { "/usr/bin", "/usr/local/bin" })
            if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        throw new InvalidOperationException($"{name} was not found on PATH. {install}");
    }

    public static Result Run(string executable, IEnumerable<string> args, string? stdin = null, TimeSpan? limit = null)
    {
        var info = new ProcessStartInfo(executable)
        {
            WorkingDirectory = Repo.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (string arg in args) info.ArgumentList.Add(arg);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        TimeSpan wait = limit ?? TimeSpan.FromMinutes(3);
        if (!process.WaitForExit(wait))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(executable)} {string.Join(' ', args)} did not finish in {wait}:\n{stderr}");
        }
        process.WaitForExit(); // drains the output handlers
        lock (stdout) lock (stderr)
            return new Result(process.ExitCode, stdout.ToString(), stderr.ToString(), $"{Path.GetFileName(executable)} {string.Join(' ', args)}");
    }
}

/// <summary>deploy/kubernetes: rendering with kubectl kustomize and validation with the pinned schemas (node).</summary>
static class Kubernetes
{
    public static string Root => Path.Combine(Repo.Deploy, "kubernetes");
    public static string Validator => Path.Combine(Root, "validate");
    public static readonly string[] Overlays = ["builtin", "checkpoint"];

    static string Kubectl => Tool.Find("kubectl",
        "kubectl (with its built-in kustomize) renders deploy/kubernetes; install the Kubernetes command-line tool.");

    static string Node => Tool.Find("node", "Install Node.js (20 or later) and run `npm ci` in deploy/kubernetes/validate (tests/run does).");

    /// <summary>The overlay rendered as multi-document YAML; fails the test with kubectl's error otherwise.</summary>
    public static string Render(string overlay)
    {
        Tool.Result result = Tool.Run(Kubectl, ["kustomize", Path.Combine("deploy", "kubernetes", "overlays", overlay)]);
        Assert.True(result.ExitCode == 0, $"the overlay {overlay} does not render:\n{result.Describe()}");
        Assert.False(string.IsNullOrWhiteSpace(result.Stdout), $"the overlay {overlay} rendered nothing");
        return result.Stdout;
    }

    /// <summary>Runs the schema validator on YAML; exit 0 and the objects as JSON, or exit 1 and one line per problem.</summary>
    public static Tool.Result Validate(string yaml)
    {
        EnsureValidatorInstalled();
        return Tool.Run(Node, [Path.Combine(Validator, "validate.mjs"), "objects"], stdin: yaml);
    }

    /// <summary>The rendered and validated objects of an overlay.</summary>
    public static List<JsonObject> Objects(string overlay)
    {
        Tool.Result result = Validate(Render(overlay));
        Assert.True(result.ExitCode == 0, $"the overlay {overlay} has invalid objects:\n{result.Describe()}");
        return JsonNode.Parse(result.Stdout)!["objects"]!.AsArray().Select(o => o!.AsObject()).ToList();
    }

    /// <summary>YAML files as JSON, through the same parser as the objects.</summary>
    public static JsonArray YamlFiles(params string[] files)
    {
        EnsureValidatorInstalled();
        Tool.Result result = Tool.Run(Node, new[] { Path.Combine(Validator, "validate.mjs"), "yaml" }.Concat(files));
        Assert.True(result.ExitCode == 0, result.Describe());
        return JsonNode.Parse(result.Stdout)!["files"]!.AsArray();
    }

    public static JsonObject Single(IEnumerable<JsonObject> objects, string kind, string? name = null)
    {
        List<JsonObject> found = objects.Where(o => (string?)o["kind"] == kind && (name is null || (string?)o["metadata"]?["name"] == name)).ToList();
        Assert.True(found.Count == 1, $"expected one {kind}{(name is null ? "" : "/" + name)}, found {found.Count}");
        return found[0];
    }

    static void EnsureValidatorInstalled()
    {
        foreach (string package in new[] { "kubernetes-models", "@kubernetes-models/prometheus-operator", "yaml" })
            Assert.True(Directory.Exists(Path.Combine(Validator, "node_modules", package)),
                $"{package} is not installed in deploy/kubernetes/validate: run `npm ci --prefix deploy/kubernetes/validate` (tests/run does).");
    }
}
