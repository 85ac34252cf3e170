// Checksumming an archive at load on the Module's threads.
//
// Verifying a prepacked ResNet-18 archive (126 MB) reads every byte once, and one core
// reads at most ~11 GB/s here: the CRC is most of the load time. Two cores read at
// about twice that, so a Module with N threads checksums each large section in N pieces
// and joins their CRCs (crc32c_combine); the result is the same CRC as crc32c's.
#pragma once

#include "archive/reader.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

/// A checksum for ArchiveView::verify that splits a section of several MB over `pool`
/// (which must outlive it); smaller sections are checksummed inline.
archive::ArchiveView::Checksum parallel_crc32c(ThreadPool& pool);

}  // namespace deployrt
