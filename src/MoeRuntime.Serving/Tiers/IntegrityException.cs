namespace MoeRuntime.Serving.Tiers;

/// <summary>
/// An expert's bytes read from the checkpoint differ from their reference SHA-256: the checkpoint's manifest
/// (<see cref="AgainstManifest"/>), or for a checkpoint without one, the bytes hashed when the expert was registered.
/// </summary>
public sealed class IntegrityException(ExpertKey expert, string tensor, string file, bool againstManifest)
    : Exception(againstManifest
        ? $"expert {expert}: tensor {tensor} in {file} does not match its SHA-256 in the checkpoint's manifest"
        : $"expert {expert}: tensor {tensor} in {file} no longer matches the SHA-256 recorded at registration")
{
    public ExpertKey Expert { get; } = expert;
    public string Tensor { get; } = tensor;
    public string File { get; } = file;

    /// <summary>The reference was the checkpoint's manifest (<c>moe-manifest.json</c>), not the bytes seen at registration.</summary>
    public bool AgainstManifest { get; } = againstManifest;
}
