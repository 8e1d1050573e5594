using System.Reflection;

namespace MoeRuntime.Integration.Tests;

/// <summary>The programs the tests start: the build puts their paths into this assembly's metadata.</summary>
static class Binaries
{
    public static string Silo { get; } = Locate("MoeSiloDll");
    public static string Cli { get; } = Locate("MoeCliDll");

    /// <summary>The dotnet host running the tests, so children use the same runtime.</summary>
    public static string Dotnet { get; } = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
        ? host
        : "dotnet";

    static string Locate(string key)
    {
        string path = typeof(Binaries).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
        return File.Exists(path) ? path : throw new FileNotFoundException($"{Path.GetFileName(path)} is not built (expected at {path}); build MoeRuntime.sln first", path);
    }
}
