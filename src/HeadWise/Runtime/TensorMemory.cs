using System.Runtime.InteropServices;
using TorchSharp;

namespace HeadWise.Runtime;

/// <summary>
/// The address of a CPU tensor's first element, for the decode kernels that read libtorch's memory directly (views
/// too: <c>Tensor.bytes</c> refuses a non-contiguous tensor, such as a KV cache's first positions). The caller keeps
/// the tensor alive while it reads, and uses the tensor's own strides.
/// </summary>
internal static partial class TensorMemory
{
    // TorchSharp's own native library, already loaded by then; the entry point that Tensor.bytes itself calls.
    [LibraryImport("LibTorchSharp", EntryPoint = "THSTensor_data")]
    private static partial IntPtr Data(IntPtr handle);

    public static unsafe T* Address<T>(torch.Tensor t) where T : unmanaged
    {
        if (t.device_type != DeviceType.CPU) throw new InvalidOperationException("decode kernels read CPU tensors only");
        return (T*)Data(t.Handle);
    }
}
