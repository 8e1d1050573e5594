using System.Runtime.InteropServices;
using MoeRuntime.Grains.Routing;

namespace MoeRuntime.Grains.Telemetry;

/// <summary>
/// The labels a failed request is counted under: <c>status</c> and <c>error_type</c> of <c>moe_requests_total</c>, the
/// <c>severity</c> of <c>moe_errors_total</c>, and the <c>reason</c> of <c>moe_admission_rejects_total</c> when admission
/// refused it (null otherwise).
/// </summary>
public readonly record struct RequestFailureLabels(string Status, string ErrorType, string Severity, string? RejectReason)
{
    /// <summary>
    /// Classifies a failure from its client-facing <paramref name="code"/> and the exception that caused it (its inner
    /// exceptions are searched too): out-of-memory and device failures of TorchSharp/libtorch are told apart from other
    /// inference failures, a failing tokenizer from the runtime's other faults, a refusal by a full queue from one by a
    /// stopping rank. <paramref name="started"/>: the batcher had taken the request; <paramref name="streamed"/>: the
    /// client had received at least one token, so it holds a partial answer.
    /// </summary>
    public static RequestFailureLabels Of(MoeErrorCode code, Exception? cause, bool started, bool streamed)
    {
        string errorType = code switch
        {
            MoeErrorCode.InvalidRequest => "invalid_request",
            MoeErrorCode.UnknownModel => "model_not_found",
            MoeErrorCode.DeadlineExceeded => "timeout",
            MoeErrorCode.Cancelled => "cancelled",
            MoeErrorCode.AdmissionRejected => "rejected",
            MoeErrorCode.ShuttingDown => "shutting_down",
            MoeErrorCode.IntegrityFailure => "integrity_error",
            MoeErrorCode.ExpertFailure => DeviceFailure(cause) ?? "inference_error",
            _ => DeviceFailure(cause) ?? (Find<TokenizationFailedException>(cause) is not null ? "tokenization_error" : "internal"),
        };
        string status = code == MoeErrorCode.DeadlineExceeded ? "timeout" : streamed ? "partial" : "error";
        string severity = errorType is "oom" or "device_error" or "integrity_error" or "inference_error" ? "critical"
            : errorType is "invalid_request" or "model_not_found" or "cancelled" ? "info" : "warning";
        string? reject = started ? null : code switch
        {
            MoeErrorCode.AdmissionRejected => "queue_full",
            MoeErrorCode.ShuttingDown => "shutting_down",
            _ => null,
        };
        return new RequestFailureLabels(status, errorType, severity, reject);
    }

    /// <summary>
    /// <c>oom</c> for a managed <see cref="OutOfMemoryException"/> or libtorch's allocator failing (TorchSharp raises
    /// libtorch errors as <see cref="ExternalException"/> carrying its message), <c>device_error</c> for another libtorch
    /// error that names the accelerator (CUDA, cuDNN, cuBLAS, a device-side assert), null for anything else.
    /// </summary>
    internal static string? DeviceFailure(Exception? cause)
    {
        for (Exception? e = cause; e is not null; e = e.InnerException)
        {
            if (e is OutOfMemoryException) return "oom";
            if (e is not ExternalException) continue;
            string m = e.Message;
            if (m.Contains("out of memory", StringComparison.OrdinalIgnoreCase) || m.Contains("not enough memory", StringComparison.OrdinalIgnoreCase)
                || m.Contains("can't allocate memory", StringComparison.OrdinalIgnoreCase))
                return "oom";
            if (m.Contains("CUDA", StringComparison.Ordinal) || m.Contains("cuDNN", StringComparison.OrdinalIgnoreCase)
                || m.Contains("CUBLAS", StringComparison.OrdinalIgnoreCase) || m.Contains("device-side", StringComparison.OrdinalIgnoreCase))
                return "device_error";
        }
        return null;
    }

    static T? Find<T>(Exception? cause) where T : Exception
    {
        for (Exception? e = cause; e is not null; e = e.InnerException)
            if (e is T t) return t;
        return null;
    }
}
