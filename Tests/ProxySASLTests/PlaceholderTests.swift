import XCTest
@testable import ProxySASL
final class ProxySASLPlaceholderTests: XCTestCase { func testModuleLinks() { XCTAssertNotNil(ProxySASLModule.self) } }
