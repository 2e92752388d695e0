using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace HeadWise.Runtime;

/// <summary>
/// Prepares the process before libtorch loads: preloads the libstdc++ shim that the build made
/// (only where the system libstdc++ is too old for TorchSharp, see build/NativeCompat.targets)
/// and turns on transparent huge pages for libtorch's large allocations.
/// </summary>
internal static class NativeCompat
{
    private const int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern IntPtr DlOpen(string file, int mode);

    [DllImport("libc", EntryPoint = "dlerror")]
    private static extern IntPtr DlError();

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    public static string? ShimError { get; private set; }

    [ModuleInitializer]
    internal static void Initialize()
    {
        if (!OperatingSystem.IsLinux()) return;
        // libtorch reads this once, from the C environment (not .NET's copy): 256 MB allocs go ~3.5x faster.
        SetEnv("THP_MEM_ALLOC_ENABLE", "1", 0);
        var shim = Path.Combine(AppContext.BaseDirectory, "libheadwise_glibcxx_compat.so");
        if (!File.Exists(shim)) return; // libstdc++ is new enough: the build made no shim
        if (DlOpen(shim, RTLD_NOW | RTLD_GLOBAL) == IntPtr.Zero)
            ShimError = Marshal.PtrToStringAnsi(DlError());
    }
}
