using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Serving.Tests.Tiers;

/// <summary>The built-in model (4 layers x 8 bf16 experts of 1.5 MB) written once per test class.</summary>
public sealed class DefaultCheckpoint : IDisposable
{
    public const string ModelName = "default";
    readonly TempDirectory _directory = new();

    public DefaultCheckpoint() => DefaultModelWriter.Write(_directory.Path);

    public string Directory => _directory.Path;

    /// <summary>A checkpoint of its own for each test, so that read counters start at zero.</summary>
    public ExpertCheckpoint Open() => ExpertCheckpoint.Open(_directory.Path, ModelName);

    public static ExpertKey Key(int layer, int expert) => new(ModelName, layer, expert);

    public static IReadOnlyList<ExpertKey> AllKeys { get; } =
        [.. Enumerable.Range(0, 4).SelectMany(layer => Enumerable.Range(0, 8).Select(expert => Key(layer, expert)))];

    public void Dispose() => _directory.Dispose();
}

[CollectionDefinition(Name)]
public sealed class DefaultCheckpointCollection : ICollectionFixture<DefaultCheckpoint>
{
    public const string Name = "default checkpoint";
}
