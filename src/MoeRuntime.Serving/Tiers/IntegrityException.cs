namespace MoeRuntime.Serving.Tiers;

/// <summary>An expert's bytes read from the checkpoint differ from those hashed when it was registered.</summary>
public sealed class IntegrityException(ExpertKey expert, string tensor, string file)
    : Exception($"expert {expert}: tensor {tensor} in {file} no longer matches the SHA-256 recorded at registration")
{
    public ExpertKey Expert { get; } = expert;
    public string Tensor { get; } = tensor;
    public string File { get; } = file;
}
