using TorchSharp;

namespace MoeRuntime.Model.Checkpoints;

/// <summary>Element types a checkpoint may hold; the names match the safetensors "dtype" strings.</summary>
public enum TensorDType
{
    /// <summary>IEEE 754 single precision ("F32").</summary>
    F32,

    /// <summary>IEEE 754 half precision ("F16").</summary>
    F16,

    /// <summary>Brain float 16 ("BF16").</summary>
    BF16,
}

/// <summary>Conversions between <see cref="TensorDType"/>, its safetensors name and TorchSharp's element types.</summary>
public static class TensorDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int ElementSize(this TensorDType dtype) => dtype switch
    {
        TensorDType.F32 => 4,
        TensorDType.F16 or TensorDType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>The TorchSharp element type that holds this dtype bit for bit.</summary>
    public static torch.ScalarType ToScalarType(this TensorDType dtype) => dtype switch
    {
        TensorDType.F32 => torch.ScalarType.Float32,
        TensorDType.F16 => torch.ScalarType.Float16,
        TensorDType.BF16 => torch.ScalarType.BFloat16,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>The checkpoint dtype for a TorchSharp element type, or false when checkpoints cannot store it.</summary>
    public static bool TryFromScalarType(torch.ScalarType scalarType, out TensorDType dtype)
    {
        switch (scalarType)
        {
            case torch.ScalarType.Float32: dtype = TensorDType.F32; return true;
            case torch.ScalarType.Float16: dtype = TensorDType.F16; return true;
            case torch.ScalarType.BFloat16: dtype = TensorDType.BF16; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>The dtype named by a safetensors header, or false for any other name.</summary>
    public static bool TryParse(string name, out TensorDType dtype)
    {
        // Exact, case-sensitive names: the safetensors format defines them that way.
        switch (name)
        {
            case "F32": dtype = TensorDType.F32; return true;
            case "F16": dtype = TensorDType.F16; return true;
            case "BF16": dtype = TensorDType.BF16; return true;
            default: dtype = default; return false;
        }
    }
}
