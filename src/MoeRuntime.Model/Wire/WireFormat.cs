namespace MoeRuntime.Model.Wire;

/// <summary>
/// The element type of activations on the wire between ranks. Float32 is exact; Float16 and BFloat16 halve the bytes
/// at a small accuracy cost (docs/wire-format.md has the measured effect). Experts compute in float32 either way.
/// </summary>
public enum WireFormat
{
    /// <summary>IEEE 754 single precision, 4 bytes an element: what the model computes in, so nothing is lost.</summary>
    Float32 = 0,
    /// <summary>IEEE 754 half precision, 2 bytes: 10-bit mantissa, range ±65504 (larger values become infinity).</summary>
    Float16 = 1,
    /// <summary>Brain float, 2 bytes: float32's range with a 7-bit mantissa (round to nearest even).</summary>
    BFloat16 = 2,
}
